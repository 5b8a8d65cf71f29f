// The PyTorch golden fixtures of tools/golden/FORMAT.md: one folder per case under
// test/fixtures/golden/, each a Hugging Face checkpoint plus golden.json.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Neuron } from "../../src/model/index.ts";

export const GOLDEN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "golden");

export interface GoldenPrompt {
  text: string;
  inputIds: number[];
  position: number;
  probs: number[];
  top20: Array<{ id: number; prob: number }>;
  activations: number[][];
  gradient: { layer: number; targetId: number; rows: number[][]; probs: number[]; grads: number[][] };
  scaled: Array<{ neurons: Neuron[]; factor: number; targetId: number; prob: number }>;
}

export interface GoldenCase {
  case: string;
  arch: "masked" | "causal";
  nLayers: number;
  hidden: number;
  ffnWidth: number;
  vocabSize: number;
  prompts: GoldenPrompt[];
  /** The checkpoint folder. */
  dir: string;
}

/** Every case folder that has a golden.json (empty before the generator has run). */
export function goldenCases(): GoldenCase[] {
  if (!fs.existsSync(GOLDEN_DIR)) return [];
  return fs
    .readdirSync(GOLDEN_DIR)
    .filter((d) => fs.existsSync(path.join(GOLDEN_DIR, d, "golden.json")))
    .sort()
    .map((d) => ({ ...JSON.parse(fs.readFileSync(path.join(GOLDEN_DIR, d, "golden.json"), "utf8")), dir: path.join(GOLDEN_DIR, d) }));
}

export function goldenCase(name: string): GoldenCase | undefined {
  return goldenCases().find((c) => c.case === name);
}

/** max_i |a_i - b_i| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
