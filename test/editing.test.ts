// Pure editing logic (src/attribution/editing.ts): Δ, the UPDATE formula, how activation edits
// combine, the reliability/generality/locality summary, saved-weight bytes, and fact measurement
// on a scripted causal model and on the golden BERT / GPT-2 checkpoints.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EditingModel, type FactProbe, combineActivationEdits, factProbe, measureFacts, packVectors, relativeChange, summarizeEffects,
  activationSign, gradientUpdatedValueVector, uniqueNeurons, unpackVectors, updateDirections, updatedValueVector, weightEditVectors,
} from "../src/attribution/editing.ts";
import { type LanguageModel, type ProbabilityRequest, type TextTokenizer, loadModel } from "../src/model/index.ts";

const GOLDEN = join(import.meta.dirname, "fixtures/golden");

describe("Δ and the UPDATE formula", () => {
  it("Δ = (after - before) / before, §12.2 example; a zero before has no relative change", () => {
    expect(relativeChange(0.2, 0.05)).toBeCloseTo(-0.75, 12);
    expect(relativeChange(0.1, 0.3)).toBeCloseTo(2, 12);
    expect(relativeChange(0, 0)).toBe(0);
    expect(relativeChange(0, 0.1)).toBe(Number.MAX_VALUE);
  });

  it("UPDATE: v - 2 E[old] + 2 E[new]; ERASE: zeros; computed from the originals", async () => {
    const v = Float32Array.from([1, 2, 3]);
    const e = [Float32Array.from([0.5, 0, -1]), Float32Array.from([0, 1, 1])];
    expect([...updatedValueVector(v, e[0], e[1])]).toEqual([0, 4, 7]);
    const embedding = async (t: number) => e[t];
    expect((await weightEditVectors("update", [v, v], { oldTokenId: 0, newTokenId: 1 }, embedding)).map((x) => [...x])).toEqual([[0, 4, 7], [0, 4, 7]]);
    expect((await weightEditVectors("erase", [v], {}, embedding)).map((x) => [...x])).toEqual([[0, 0, 0]]);
    await expect(weightEditVectors("update", [v], { oldTokenId: 0 }, embedding)).rejects.toThrow(/newTokenId/);
  });

  it("UPDATE respects the activation's sign: s = -1 reverses the step (embedding and gradient rules)", async () => {
    const v = Float32Array.from([1, 2, 3]);
    const e = [Float32Array.from([0.5, 0, -1]), Float32Array.from([0, 1, 1])];
    const embedding = async (t: number) => e[t];
    expect(activationSign(-0.3)).toBe(-1);
    expect(activationSign(0)).toBe(1);
    // s = -1: v + 2 E[old] - 2 E[new] = [1 + 1 - 0, 2 + 0 - 2, 3 - 2 - 2]
    expect([...updatedValueVector(v, e[0], e[1], 2, -1)]).toEqual([2, 0, -1]);
    const signed = await weightEditVectors("update", [v, v], { oldTokenId: 0, newTokenId: 1, signs: [1, -1] }, embedding);
    expect(signed.map((x) => [...x])).toEqual([[0, 4, 7], [2, 0, -1]]);
    // gradient rule: step length λ·‖E[new] − E[old]‖ = 2·‖(-0.5, 1, 2)‖ = 2·sqrt(5.25) along the saved unit gradient
    const len = Math.sqrt(0.25 + 1 + 4);
    const g = await weightEditVectors("update", [v, v], { oldTokenId: 0, newTokenId: 1, rule: "gradient", signs: [1, -1], gradients: [[0, 1, 0], [0.6, 0, 0.8]] }, embedding);
    expect([...g[0]]).toEqual([...Float32Array.from([1, 2 + 2 * len, 3])]);
    expect([...g[1]]).toEqual([...Float32Array.from([1 - 2 * len * 0.6, 2, 3 - 2 * len * 0.8])]);
    expect([...gradientUpdatedValueVector(v, [1, 0, 0], 0.5, 4)]).toEqual([3, 2, 3]);
    await expect(weightEditVectors("update", [v], { oldTokenId: 0, newTokenId: 1, rule: "gradient" }, embedding)).rejects.toThrow(/one saved gradient per neuron/);
  });

  it("saved weights round-trip bit for bit (signed zero and NaN payloads included)", () => {
    const a = Float32Array.from([1.5, -0, 3.4028234663852886e38, 1e-45]);
    const b = new Float32Array(4);
    new DataView(b.buffer).setUint32(4, 0x7fc01234, true); // a NaN with a payload
    const bytes = packVectors([a, b]);
    expect(bytes.byteLength).toBe(32);
    const [a2, b2] = unpackVectors(bytes, 2);
    expect(Buffer.from(a2.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(b2.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(() => unpackVectors(bytes.subarray(0, 30), 2)).toThrow(/do not hold/);
  });

  it("uniqueNeurons keeps the first occurrence's order", () => {
    expect(uniqueNeurons([[1, 2], [0, 5], [1, 2], [0, 5], [3, 3]])).toEqual([[1, 2], [0, 5], [3, 3]]);
  });
});

describe("combining activation edits into one scale", () => {
  it("no edits: no scale; one kind: the union of its neurons at its factor", () => {
    expect(combineActivationEdits([])).toEqual({ ok: true, scale: undefined });
    const r = combineActivationEdits([{ kind: "enhance", neurons: [[0, 1], [1, 2]] }, { kind: "enhance", neurons: [[1, 2], [1, 3]] }]);
    expect(r).toEqual({ ok: true, scale: { factor: 2, neurons: [[0, 1], [1, 2], [1, 3]] } }); // x2, not x4 on (1,2)
    expect(combineActivationEdits([{ kind: "suppress", neurons: [[0, 1]] }])).toEqual({ ok: true, scale: { factor: 0, neurons: [[0, 1]] } });
  });

  it("suppression wins on a shared neuron; suppressed and enhanced neurons at once are refused", () => {
    expect(combineActivationEdits([{ kind: "suppress", neurons: [[0, 1], [0, 2]] }, { kind: "enhance", neurons: [[0, 1]] }])).toEqual({
      ok: true,
      scale: { factor: 0, neurons: [[0, 1], [0, 2]] },
    });
    const mixed = combineActivationEdits([{ kind: "suppress", neurons: [[0, 1]] }, { kind: "enhance", neurons: [[0, 2]] }]);
    expect(mixed.ok).toBe(false);
    expect(!mixed.ok && mixed.reason).toMatch(/1 suppressed and 1 enhanced/);
  });
});

describe("reliability, generality, locality", () => {
  it("maps related/source, related/other languages and unrelated effects to their means", () => {
    const effects = [
      { language: "en", related: true, change: -0.5 },
      { language: "fr", related: true, change: -0.2 },
      { language: "zh", related: true, change: -0.4 },
      { language: "en", related: false, change: 0.1 },
      { language: "en", related: false, change: -0.1 },
    ];
    const s = summarizeEffects(effects, "en");
    expect(s.reliability).toBeCloseTo(-0.5, 12);
    expect(s.generality).toBeCloseTo(-0.3, 12);
    expect(s.locality).toBeCloseTo(0, 12);
    expect(summarizeEffects([], null)).toEqual({ reliability: null, generality: null, locality: null });
  });
});

/** Word-level tokenizer over a fixed vocabulary ("a b c" -> ids). */
function wordTokenizer(words: string[]): TextTokenizer {
  return {
    encode: (text) => text.split(/\s+/).filter(Boolean).map((w) => words.indexOf(w)),
    decode: (ids) => ids.map((id) => ` ${words[id]}`).join(""),
    idToToken: (id) => words[id],
    tokenToId: (t) => (words.includes(t) ? words.indexOf(t) : undefined),
    maskToken: undefined,
    maskId: undefined,
    eosToken: undefined,
    eosId: undefined,
  };
}

/**
 * A causal model whose next-token distribution is scripted by the last token: after "is" it
 * prefers "New" (0.6) over "Old" (0.3); after "New" "York"; after "Old" "Town". Every pass is
 * recorded, so the test sees which continuations needed their own pass.
 */
function scriptedCausalModel(words: string[]) {
  const passes: number[][] = [];
  const next: Record<string, Record<string, number>> = { is: { New: 0.6, Old: 0.3 }, New: { York: 0.9 }, Old: { Town: 0.5, York: 0.4 } };
  const model: EditingModel = {
    architecture: "causal",
    maxPositions: 16,
    tokenizer: wordTokenizer(words),
    probabilitiesBatch: async (requests: readonly ProbabilityRequest[]) =>
      requests.map((r) => {
        passes.push([...r.ids.slice(0, (r.position ?? r.ids.length - 1) + 1)]);
        const last = words[r.ids[r.position ?? r.ids.length - 1]];
        const p = new Float32Array(words.length).fill(0.001);
        const factor = r.scale ? r.scale.factor : 1;
        for (const [w, q] of Object.entries(next[last] ?? {})) p[words.indexOf(w)] = w === "New" ? q * factor : q;
        return p;
      }),
  };
  return { model, passes };
}

describe("measuring a fact", () => {
  const words = ["The", "city", "is", "New", "Old", "York", "Town"];
  const fact = { template: "The [X] is [Y] .", subject: "city", object: "Old Town", language: "en" };

  it("causal: teacher-forced gold probability, greedy answer with its own passes off the gold path", async () => {
    const { model, passes } = scriptedCausalModel(words);
    const probe = factProbe(model, fact) as FactProbe;
    expect(probe.targetIds).toEqual([4, 6]);
    const [m] = await measureFacts(model, [probe]);
    expect(m.pieceProbabilities[0]).toBeCloseTo(0.3, 6);
    expect(m.pieceProbabilities[1]).toBeCloseTo(0.5, 6);
    expect(m.probability).toBeCloseTo(0.15, 6);
    expect(m.answerIds).toEqual([3, 5]); // "New York": greedy leaves the gold path at step 1
    expect(m.answer).toBe("New York");
    expect(passes.map((p) => p.map((id) => words[id]).join(" "))).toEqual(["The city is", "The city is Old", "The city is New"]);
  });

  it("causal: on the gold path no extra pass; the scale reaches every pass", async () => {
    const { model, passes } = scriptedCausalModel(words);
    const probe = factProbe(model, fact) as FactProbe;
    const [m] = await measureFacts(model, [probe], { neurons: [[0, 0]], factor: 0 }); // scripted: x0 kills "New"
    expect(m.answer).toBe("Old Town");
    expect(passes).toHaveLength(2);
  });

  it("reports why a prompt cannot be measured", () => {
    const { model } = scriptedCausalModel(words);
    expect(factProbe(model, { ...fact, template: "[Y] is the city of [X] ." })).toEqual({ error: expect.stringMatching(/subject \[X\] must come before \[Y\]/) });
    const tiny = { ...model, maxPositions: 3 };
    expect(factProbe(tiny, fact)).toEqual({ error: "the prompt needs 4 tokens, the model has 3 positions" });
  });
});

describe("measuring on the golden checkpoints", () => {
  const models: Record<string, LanguageModel> = {};
  beforeAll(async () => {
    models.bert = await loadModel(join(GOLDEN, "bert-tied-f32"));
    models.gpt2 = await loadModel(join(GOLDEN, "gpt2-tied-f32"));
  });
  afterAll(() => Object.values(models).forEach((m) => m.dispose()));

  const zh = { template: "[X]的首都是[Y]。", subject: "法国", object: "巴黎", language: "zh" };
  const en = { template: "The capital of [X] is [Y] .", subject: "France", object: "Paris", language: "en" };

  it("masked: k masks, piece s at mask s; probability and answer equal direct model calls, with and without a scale", async () => {
    const lm = models.bert;
    const probe = factProbe(lm, zh) as FactProbe;
    expect(probe.steps.map((s) => s.position)).toEqual([7, 8]);
    const scale = { neurons: [[0, 3], [1, 7]] as [number, number][], factor: 2 };
    for (const s of [undefined, scale]) {
      const [m] = await measureFacts(lm, [probe], s);
      const direct = await Promise.all(probe.steps.map((st) => lm.probabilities(st.ids, { position: st.position, scale: s })));
      expect(m.pieceProbabilities).toEqual(probe.steps.map((st, j) => direct[j][st.targetId]));
      expect(m.probability).toBe(m.pieceProbabilities[0] * m.pieceProbabilities[1]);
      const argmaxes = direct.map((p) => p.indexOf(Math.max(...p)));
      expect(m.answerIds).toEqual(argmaxes);
      expect(m.answer).toBe(lm.tokenizer.decode(argmaxes, { skipSpecialTokens: true }).trim());
    }
    expect((await measureFacts(lm, [probe], scale))[0].probability).not.toBe((await measureFacts(lm, [probe]))[0].probability);
  });

  it("causal: greedy continuation of as many tokens as the object has, decoded and trimmed", async () => {
    const lm = models.gpt2;
    const probe = factProbe(lm, en) as FactProbe;
    const [m] = await measureFacts(lm, [probe]);
    const ids = [...probe.steps[0].ids];
    for (let s = 0; s < probe.targetIds.length; s++) {
      const p = await lm.probabilities(ids);
      ids.push(p.indexOf(Math.max(...p)));
    }
    expect(m.answerIds).toEqual(ids.slice(probe.steps[0].ids.length));
    expect(m.answer).toBe(lm.tokenizer.decode(m.answerIds, { skipSpecialTokens: true }).trim());
    // batching several probes gives the same numbers as one at a time
    const both = await measureFacts(lm, [probe, factProbe(lm, { ...en, subject: "Germany", object: "Berlin" }) as FactProbe]);
    expect(both[0]).toEqual(m);
  });
});

// The gradient rule's direction on real model math: ∂ log P(y)/∂(FFN output) at the prompt.
describe("UPDATE directions on the golden checkpoints", () => {
  const models: Record<string, LanguageModel> = {};
  beforeAll(async () => {
    models.bert = await loadModel(join(GOLDEN, "bert-tied-f32"));
    models.gpt2 = await loadModel(join(GOLDEN, "gpt2-tied-f32"));
  });
  afterAll(() => Object.values(models).forEach((m) => m.dispose()));
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, j) => s + x * b[j], 0);

  it("BERT: dP/d(activation_j) from the attribution gradient equals P · g·v_j in every layer (g = outputGradients)", async () => {
    const lm = models.bert;
    const ids = lm.tokenizer.encode("The capital of France is [MASK] .");
    const position = lm.targetPosition(ids);
    const target = 17;
    const ctx = await lm.prepare(ids, position);
    try {
      for (let layer = 0; layer < lm.nLayers; layer++) {
        const [g] = await lm.outputGradients(ids, position, [layer], target);
        expect(g).toHaveLength(lm.hidden);
        // BERT's hook is GELU's output, so d P/d m_j = P · (∂ log P/∂ out) · v_j exactly
        const { probs, grads } = await ctx.patchedGradient(layer, [ctx.activations[layer]], target);
        const units = Array.from({ length: lm.ffnWidth }, (_, j) => [layer, j] as const);
        const values = await lm.getValueVectors(units);
        const expected = values.map((v) => probs[0] * dot(g, v));
        const scale = Math.max(...grads[0].map(Math.abs));
        expected.forEach((x, j) => expect(Math.abs(x - grads[0][j])).toBeLessThan(1e-4 * scale));
      }
    } finally {
      ctx.dispose();
    }
  });

  it("GPT-2, last layer: a value-vector step along ĝ raises log P(y) most; a step along u by the cosine ĝ·u as much", async () => {
    const lm = models.gpt2;
    const ids = lm.tokenizer.encode("The capital of France is");
    const last = lm.nLayers - 1;
    const target = 17;
    const acts = await lm.activations(ids);
    // the neuron with the largest activation in the last layer (nothing above mixes positions);
    // GPT-2's hook is GELU's input, and a large positive input passes GELU almost unchanged
    const unit = acts[last].indexOf(Math.max(...acts[last]));
    const neuron = [last, unit] as const;
    const [g] = await lm.outputGradients(ids, undefined, [last], target);
    const gHat = g.map((x) => x / Math.sqrt(dot(g, g)));
    const [v] = await lm.getValueVectors([neuron]);
    const logP = async () => Math.log((await lm.probabilities(ids))[target]);
    const base = await logP();
    const step = async (u: ArrayLike<number>, eps: number) => {
      lm.setValueVectors([neuron], [v.map((x, j) => x + eps * u[j])]);
      try {
        return (await logP()) - base;
      } finally {
        lm.setValueVectors([neuron], [v]);
      }
    };
    const eps = 1e-2;
    const along = (await step(gHat, eps)) - (await step(gHat, -eps)); // central difference
    expect(along).toBeGreaterThan(0);
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let k = 0; k < 3; k++) {
      const u = Array.from({ length: lm.hidden }, random);
      const n = Math.sqrt(dot(u, u));
      const uHat = u.map((x) => x / n);
      const d = (await step(uHat, eps)) - (await step(uHat, -eps));
      expect(d / along).toBeCloseTo(dot(gHat, uHat), 2);
    }
  });

  it("both models: updateDirections reads the activation signs at the prompt, and the gradient rule raises log P(y_new) there", async () => {
    for (const lm of [models.bert, models.gpt2]) {
      const text = lm.architecture === "masked" ? "The capital of France is [MASK] ." : "The capital of France is";
      const ids = lm.tokenizer.encode(text);
      const position = lm.targetPosition(ids);
      const acts = await lm.activations(ids, position);
      // in two layers, the most negative neuron (GELU's output is lowest, -0.17, at input -0.75: BERT
      // hooks the output, GPT-2 the input) and the most positive one
      const pick = (layer: number, negative: boolean) => {
        const a = acts[layer];
        return negative ? a.reduce((best, x, j) => (x < 0 && Math.abs(x + 0.75) < Math.abs(a[best] + 0.75) ? j : best), a.findIndex((x) => x < 0)) : a.indexOf(Math.max(...a));
      };
      const neurons = [[0, pick(0, true)], [0, pick(0, false)], [1, pick(1, true)], [1, pick(1, false)]] as [number, number][];
      expect(neurons.every(([, u]) => u >= 0)).toBe(true);
      const p0 = await lm.probabilities(ids, { position });
      const oldTokenId = p0.indexOf(Math.max(...p0));
      const newTokenId = oldTokenId === 17 ? 18 : 17;
      const d = await updateDirections(lm, { ids, position }, neurons, newTokenId, "gradient");
      expect(d.signs).toEqual(neurons.map(([l, u]) => (acts[l][u] < 0 ? -1 : 1)));
      expect(new Set(d.signs)).toEqual(new Set([-1, 1]));
      expect(d.gradients!.map((x) => Math.sqrt(dot(x, x)))).toEqual(neurons.map(() => expect.closeTo(1, 5)));
      const original = await lm.getValueVectors(neurons);
      const logNew = async () => Math.log((await lm.probabilities(ids, { position }))[newTokenId]);
      const before = await logNew();
      const embed = (t: number) => lm.wordEmbedding(t);
      // small λ: the first-order gain λ·|m|·‖ΔE‖·‖g‖ dominates
      for (const [rule, extra] of [["gradient", d], ["gradient", { ...d, signs: d.signs!.map((s) => -s) }]] as const) {
        lm.setValueVectors(neurons, await weightEditVectors("update", original, { oldTokenId, newTokenId, strength: 0.05, rule, ...extra }, embed));
        const after = await logNew();
        lm.setValueVectors(neurons, original);
        // with the activations' signs it goes up; with the signs flipped (what ignoring them does to the negative neurons' half) it goes down
        if (extra === d) expect(after).toBeGreaterThan(before);
        else expect(after).toBeLessThan(before);
      }
    }
  });
});
