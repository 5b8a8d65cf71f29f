// Batching across layers and prompts (LanguageModel.patchedGradients, Network.logitsFromPatches)
// changes no number beyond float reassociation: several prompts attributed at once, their rows
// packed across layers and prompts (and, with a tiny row budget, one layer's path split across
// passes), equal the same prompts attributed one (prompt, layer) pass at a time, on real
// checkpoints against the PyTorch fixtures, on wasm and webgpu.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AttributionStep, attributeSteps } from "../src/attribution/attribute.ts";
import { cleanSteps } from "../src/attribution/fact-attribution.ts";
import type { Method } from "../src/attribution/integrated-gradients.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { selectKnowledgeNeurons } from "../src/attribution/selection.ts";
import { type LanguageModel, loadModel, useBackend } from "../src/model/index.ts";
import { DEFAULT_ROW_BUDGET, packRows, rowBudget } from "../src/model/transformer-model.ts";
import { describeBackends, parityBackends } from "./helpers/webgpu.ts";

const ROOT = join(import.meta.dirname, "..");

interface Item {
  ids: number[];
  pieces: number[];
  method: Method;
  steps: number;
  tau: number;
  scores: number[][];
  knowledgeNeurons: [number, number, number][];
}

const CASES = [
  { name: "bert-untied-f16-gammabeta", dir: join(ROOT, "test/fixtures/golden/bert-untied-f16-gammabeta"), fixture: "test/fixtures/golden/bert-untied-f16-gammabeta/attribution.json", webgpu: true },
  { name: "gpt2-noprefix-f16", dir: join(ROOT, "test/fixtures/golden/gpt2-noprefix-f16"), fixture: "test/fixtures/golden/gpt2-noprefix-f16/attribution.json", webgpu: true },
  { name: "demo-mbert", dir: join(ROOT, "models/demo-mbert"), fixture: "test/fixtures/demo-attribution/demo-mbert.json", webgpu: false },
  { name: "demo-mgpt", dir: join(ROOT, "models/demo-mgpt"), fixture: "test/fixtures/demo-attribution/demo-mgpt.json", webgpu: false },
];

const loaded = new Map<string, Promise<LanguageModel>>();
/** The model with `budget` tokens per pass, or the backend's default budget. */
async function model(dir: string, backend: string, budget?: number): Promise<LanguageModel> {
  await useBackend(backend);
  const key = `${backend}:${budget ?? "default"}:${dir}`;
  if (!loaded.has(key)) loaded.set(key, loadModel(dir, { backend, rowBudget: budget }));
  return loaded.get(key)!;
}
afterAll(async () => (await Promise.all(loaded.values())).forEach((m) => m.dispose()));

const maxAbs = (rows: ArrayLike<number>[]) => Math.max(...rows.map((r) => Math.max(...Array.from(r, Math.abs))));
const worstDiff = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => Math.max(...a.map((row, l) => Math.max(...Array.from(row, (v, u) => Math.abs(v - b[l][u])))));

describe("packRows", () => {
  it("fills passes up to the budget across layers and prompts, splitting a request where it must", () => {
    const shape = { nLayers: 3, ffnWidth: 4, vocabSize: 10 };
    // two prompts (9 and 5 tokens per row), 3 layers of 4 path points each
    const items = [0, 1, 2, 3, 4, 5].map((request) => ({ request, rows: 4, tokensPerRow: request < 3 ? 9 : 5 }));
    const parts = packRows(shape, items, 50);
    for (const part of parts) expect(part.reduce((t, s) => t + s.count * items[s.request].tokensPerRow, 0)).toBeLessThanOrEqual(50);
    // every row exactly once, in order
    expect(parts.flat().flatMap((s) => Array.from({ length: s.count }, (_, j) => `${s.request}:${s.from + j}`))).toEqual(
      items.flatMap((it) => Array.from({ length: it.rows }, (_, j) => `${it.request}:${j}`)),
    );
    // 3·4·9 + 3·4·5 = 168 tokens: 4 passes of ≤ 50 (not 6, one per request), one spanning both prompts
    expect(parts.length).toBe(4);
    expect(parts.some((p) => new Set(p.map((s) => s.request)).size > 1)).toBe(true);
    expect(parts.some((p) => p.some((s) => s.request < 3) && p.some((s) => s.request >= 3))).toBe(true);
    // a row larger than the budget still gets a pass of its own
    expect(packRows(shape, [{ request: 0, rows: 2, tokensPerRow: 50 }], 40)).toEqual([[{ request: 0, from: 0, count: 1 }], [{ request: 0, from: 1, count: 1 }]]);
  });
});

describe("row budget", () => {
  it("defaults by backend (webgpu 16384, the CPU backends 512); KN_ROW_BUDGET overrides every backend", () => {
    const saved = process.env.KN_ROW_BUDGET;
    try {
      delete process.env.KN_ROW_BUDGET;
      expect(rowBudget("webgpu")).toBe(16384);
      for (const b of ["wasm", "cpu", "tensorflow"] as const) expect(rowBudget(b)).toBe(512);
      expect(DEFAULT_ROW_BUDGET.webgpu).toBeGreaterThan(DEFAULT_ROW_BUDGET.wasm);
      process.env.KN_ROW_BUDGET = "300";
      expect(rowBudget("webgpu")).toBe(300);
      expect(rowBudget("wasm")).toBe(300);
      process.env.KN_ROW_BUDGET = "0";
      expect(() => rowBudget("wasm")).toThrow(/KN_ROW_BUDGET must be a positive integer/);
    } finally {
      if (saved === undefined) delete process.env.KN_ROW_BUDGET;
      else process.env.KN_ROW_BUDGET = saved;
    }
  });
});

describeBackends((backend) => {
  const cases = CASES.filter((c) => existsSync(c.dir) && (backend !== "webgpu" || c.webgpu));
  describe.each(cases.map((c) => [c.name, c] as const))("batched across layers and prompts: %s", (_name, c) => {
    const all = (JSON.parse(readFileSync(join(ROOT, c.fixture), "utf8")) as { items: Item[] }).items;
    // webgpu (a software adapter here) checks amig-compat: the same kernels as the other methods
    const methods = [...new Set(all.map((i) => i.method))].filter((m) => backend !== "webgpu" || m === "amig-compat");
    it.each(methods)("%s: every prompt of the fixture at once equals one (prompt, layer) at a time", { timeout: 600_000 }, async (method) => {
      const items = all.filter((i) => i.method === method);
      const loadedLm = await model(c.dir, backend);
      expect(loadedLm.rowBudget).toBe(rowBudget(loadedLm.backend));
      const lm = attributionModel(loadedLm);
      const stepsOf = items.map((item) => cleanSteps(lm.architecture, lm.blankId, item.ids, item.pieces));
      const steps: AttributionStep[] = stepsOf.flat();
      const options = { method, steps: items[0].steps };
      expect(new Set(items.map((i) => i.steps)).size).toBe(1);

      // the reference: one prompt and one layer per call (each a single pass of N path points)
      const single: Float32Array[][] = [];
      for (const step of steps) {
        const rows: Float32Array[] = [];
        for (let l = 0; l < lm.nLayers; l++) rows.push((await attributeSteps(lm, [step], { ...options, layers: [l] }))[0].scores[l]);
        single.push(rows);
      }
      // all prompts in one call: the backend's default budget, and a budget of 7 tokens that splits every path
      const tiny = attributionModel(await model(c.dir, backend, 7));
      for (const m of [lm, tiny]) {
        const batched = await attributeSteps(m, steps, options);
        batched.forEach((r, s) => expect(worstDiff(r.scores, single[s])).toBeLessThanOrEqual(1e-5 * maxAbs(single[s])));
        // and per fact (pieces summed), the PyTorch scores and the same knowledge neurons
        let next = 0;
        items.forEach((item, i) => {
          const own = batched.slice(next, (next += stepsOf[i].length));
          const scores = own[0].scores.map((row, l) => row.map((_, u) => own.reduce((sum, r) => sum + r.scores[l][u], 0)));
          expect(worstDiff(scores, item.scores)).toBeLessThanOrEqual(1e-4 * maxAbs(item.scores));
          const kn = selectKnowledgeNeurons(scores, item.tau).map((n) => `${n.layer}:${n.unit}`);
          expect(new Set(kn)).toEqual(new Set(item.knowledgeNeurons.map(([l, u]) => `${l}:${u}`)));
        });
      }
    });
  });
}, parityBackends().filter((b) => b !== "cpu"));
