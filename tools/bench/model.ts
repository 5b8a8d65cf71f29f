// npm run bench:model — one BERT-base encoder layer (hidden 768, FFN 3072, 12 heads), batch 20 ×
// sequence 16: forward, and forward + gradient with respect to the layer input, on every tfjs
// backend that is installed, with the dense-layer gradient written four ways, plus PyTorch on
// the same machine for scale. Random weights: only the timing matters.
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as tf from "../../src/model/tf.ts";
import { useBackend, type BackendName } from "../../src/model/backend.ts";
import { BertLayer } from "../../src/model/bert.ts";
import type { Weights } from "../../src/model/checkpoint.ts";
import type { DenseGradMode } from "../../src/model/dense.ts";
import { ModelError } from "../../src/model/errors.ts";
import { markdownTable } from "./table.ts";

const SHAPE = { hidden: 768, ffnWidth: 3072, nHeads: 12, layerNormEps: 1e-12, activation: "gelu" as const };
const BATCH = 20;
const SEQ = 16;

interface Variant {
  label: string;
  mode: DenseGradMode;
  /** Swap in tfjs's own BatchMatMul gradient (transposeA/B flags) for the run. */
  stockMatMulGrad?: boolean;
  reps: number;
}

const VARIANTS: Variant[] = [
  { label: "customGrad, pre-transposed W (wasm default)", mode: "pretransposed", reps: 5 },
  { label: "customGrad, matMul transposeB flag (cpu default)", mode: "transposeB", reps: 1 },
  { label: "tf.grad through matMul, gradients.ts (transpose W per call)", mode: "autodiff", reps: 5 },
  { label: "naive: tf.grad through matMul, stock tfjs gradient (flags)", mode: "autodiff", stockMatMulGrad: true, reps: 1 },
];

/** tfjs-core's own BatchMatMul gradient (not in its Node bundle): dA = dy·Bᵀ, dB = Aᵀ·dy via transpose flags. */
const STOCK_BATCH_MATMUL_GRAD: tf.GradConfig = {
  kernelName: "BatchMatMul",
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const g = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return { a: () => tf.matMul(g, b, false, true), b: () => tf.matMul(a, g, true, false) };
    if (!transposeA) return { a: () => tf.matMul(g, b), b: () => tf.matMul(g, a, true, false) };
    if (!transposeB) return { a: () => tf.matMul(b, g, false, true), b: () => tf.matMul(a, g) };
    return { a: () => tf.matMul(b, g, true, true), b: () => tf.matMul(g, a, true, true) };
  },
};

function withStockMatMulGradient<T>(fn: () => T): T {
  const ours = tf.getGradient("BatchMatMul");
  tf.unregisterGradient("BatchMatMul");
  tf.registerGradient(STOCK_BATCH_MATMUL_GRAD);
  try {
    return fn();
  } finally {
    tf.unregisterGradient("BatchMatMul");
    tf.registerGradient(ours);
  }
}

/** Normal(0, 0.02) weights, LayerNorm gamma 1 / beta 0, from a fixed-seed generator. */
function randomWeights(seed = 1): Weights {
  let s = seed >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return {
    has: () => true,
    get(name, shape) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (name.endsWith("LayerNorm.weight")) data.fill(1);
      else if (!name.endsWith(".bias")) {
        for (let i = 0; i < n; i++) data[i] = 0.02 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      }
      return { shape, data };
    },
  };
}

/** Median wall time of `reps` runs, after one warm-up run if asked. */
function time(fn: () => void, reps: number, warmup: boolean): number {
  if (warmup) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

interface Row {
  backend: string;
  variant: string;
  forwardMs?: number;
  gradientMs?: number;
  reps?: number;
  note?: string;
}

function benchBackend(backend: BackendName): Row[] {
  // the pure-JS cpu backend runs ~1 GFLOP/s (seconds per call): its default variant only, once
  const slow = backend === "cpu";
  const variants = slow ? VARIANTS.filter((v) => v.mode === "transposeB") : VARIANTS;
  const rows: Row[] = [];
  const x = tf.randomNormal([BATCH, SEQ, SHAPE.hidden]) as tf.Tensor3D;
  for (const v of variants) {
    const reps = slow ? 1 : v.reps;
    const layer = new BertLayer(randomWeights(), "layer", SHAPE, v.mode);
    const measure = () => {
      const forwardMs = time(() => tf.tidy(() => void layer.block(x, 0).out.dataSync()), reps, !slow);
      const grad = tf.grad((input: tf.Tensor) => tf.sum(layer.block(input as tf.Tensor3D, 0).out));
      const gradientMs = time(() => tf.tidy(() => void grad(x).dataSync()), reps, !slow);
      return { forwardMs, gradientMs };
    };
    const r = v.stockMatMulGrad ? withStockMatMulGradient(measure) : measure();
    layer.dispose();
    rows.push({ backend, variant: v.label, ...r, reps });
    process.stderr.write(`  ${backend}: ${v.label} done\n`);
  }
  x.dispose();
  return rows;
}

async function benchTorch(): Promise<Row> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "torch_layer.py");
  const args = [script, "--threads", "2", "--batch", `${BATCH}`, "--seq", `${SEQ}`, "--hidden", `${SHAPE.hidden}`, "--ffn", `${SHAPE.ffnWidth}`, "--heads", `${SHAPE.nHeads}`];
  try {
    const { stdout } = await promisify(execFile)("/usr/bin/python3", args, { timeout: 120_000 });
    const r = JSON.parse(stdout.trim().split("\n").pop() ?? "") as { torch: string; threads: number; forward_ms: number; forward_backward_ms: number; reps: number };
    return { backend: `torch ${r.torch}`, variant: `PyTorch, ${r.threads} threads`, forwardMs: r.forward_ms, gradientMs: r.forward_backward_ms, reps: r.reps };
  } catch (err) {
    const why = (err as Error).message.split("\n").find((l) => /Error|No such file/.test(l)) ?? "";
    return { backend: "torch", variant: "-", note: `torch: not available ${why}`.trim() };
  }
}

function printTable(rows: Row[]): void {
  const fmt = (v?: number) => (v === undefined ? "" : v.toFixed(1));
  const cells = rows.map((r) => (r.note ? [r.backend, r.note, "", "", ""] : [r.backend, r.variant, fmt(r.forwardMs), fmt(r.gradientMs), `${r.reps}`]));
  console.log(markdownTable(["backend", "variant", "forward ms", "forward+grad ms", "runs (median)"], cells, 2));
}

const rows: Row[] = [];
console.log(`One BERT-base layer (hidden ${SHAPE.hidden}, FFN ${SHAPE.ffnWidth}, ${SHAPE.nHeads} heads), batch ${BATCH} x seq ${SEQ}; gradient w.r.t. the layer input.`);
// timings on a shared machine are only as good as its idle time
console.log(`${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at start.\n`);
for (const backend of ["wasm", "cpu", "tensorflow"] as const) {
  try {
    await useBackend(backend);
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    rows.push({ backend, variant: "-", note: "not installed (npm install @tensorflow/tfjs-node)" });
    continue;
  }
  rows.push(...benchBackend(backend));
}
rows.push(await benchTorch()); // after the tfjs runs: two processes at once would skew both
printTable(rows);
