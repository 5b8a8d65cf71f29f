// `kn predict` as a child process: JSON output against the PyTorch goldens, and exit code 2 with
// a message for bad input.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { goldenCase, type GoldenCase } from "./helpers/model-golden.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ENTRY = "src/cli/main.ts";
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

async function kn(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, [ENTRY, ...args], { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

interface Prediction {
  inputIds: number[];
  position: number;
  top: Array<{ id: number; token: string; prob: number }>;
}

for (const name of ["bert-tied-f32", "gpt2-noprefix-f16"]) {
  const golden = goldenCase(name);
  describe.skipIf(!golden)(`kn predict on ${name}`, () => {
    const g = golden as GoldenCase;
    it("prints the top 20 as JSON, matching PyTorch", async () => {
      const p = g.prompts[0];
      const r = await kn("predict", "--model", g.dir, "--text", p.text, "--top", "20", "--json");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as Prediction;
      expect(out.inputIds).toEqual(p.inputIds);
      expect(out.position).toBe(p.position);
      expect(out.top).toHaveLength(20);
      for (const t of out.top) {
        expect(Math.abs(t.prob - p.probs[t.id]), `id ${t.id}`).toBeLessThanOrEqual(1e-5);
        expect(typeof t.token).toBe("string");
      }
      for (let k = 1; k < out.top.length; k++) expect(out.top[k].prob).toBeLessThanOrEqual(out.top[k - 1].prob);
      // the same 20 tokens as PyTorch, up to near-ties at the cut-off
      const cutoff = p.top20[19].prob;
      for (const t of out.top) expect(p.probs[t.id]).toBeGreaterThanOrEqual(cutoff - 2e-5);
    });

    it("prints a readable table without --json", async () => {
      const r = await kn("predict", "--model", g.dir, "--text", g.prompts[0].text, "--top", "3", "--backend", "cpu");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/rank\s+prob\s+id\s+token/);
      expect(r.stdout.split("\n").filter((l) => /^\s+\d+\s+\d\.\d{6}\s+\d+\s/.test(l))).toHaveLength(3);
    });
  });
}

describe("kn predict input errors", () => {
  const bert = goldenCase("bert-tied-f32");
  it.skipIf(!bert)("exits with 2 when a masked LM prompt has no mask token", async () => {
    const r = await kn("predict", "--model", bert!.dir, "--text", "Paris is the capital of France .");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/mask token \[MASK\]/);
  });

  it("exits with 2 for an unknown model and for empty text", async () => {
    const unknown = await kn("predict", "--model", "no-such-model", "--text", "a [MASK]");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown model "no-such-model"/);
    const empty = await kn("predict", "--model", "no-such-model", "--text", " ");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--text is empty/);
  });
});
