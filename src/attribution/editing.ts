// Knowledge editing over the model interface (ALGORITHMS.md §5.2–5.5), pure logic: measuring a
// fact's gold probability and greedy answer, the relative change Δ, the UPDATE value-vector
// formula, how active activation edits combine, and the reliability / generality / locality
// summary. No database or API here: the live-model registry and the resolvers call in.
//
// Measurement is the clean mode of §2.6, on the prompts the indexer attributes (buildPrompt):
//   masked LM: k masks for a k-piece object, piece s read at mask s (other masks stay masks);
//   causal LM: teacher-forced, piece s read after prompt ⊕ y_1..y_{s-1}.
// An activation scale applies at every step's read position, as in the cross-lingual experiment.
import type { LanguageModel, Neuron, NeuronScale, ProbabilityRequest } from "../model/language-model.ts";
import { cleanSteps } from "./fact-attribution.ts";
import { type PromptFact, buildPrompt, objectPieces } from "./prompts.ts";

export type EditKind = "suppress" | "enhance" | "erase" | "update";
export type ActivationKind = "suppress" | "enhance";

export const isActivationKind = (kind: EditKind): kind is ActivationKind => kind === "suppress" || kind === "enhance";

/** §5.2: suppression zeroes the activation, enhancement doubles it (GPT-2: the pre-GELU value). */
export const ACTIVATION_FACTOR: Readonly<Record<ActivationKind, number>> = { suppress: 0, enhance: 2 };

/** §5.5, AMIG/EleutherAI: λ = 2, no norm scaling. */
export const UPDATE_LAMBDA = 2;

/** What measuring needs from a model (LanguageModel satisfies it; tests may pass toys). */
export type EditingModel = Pick<LanguageModel, "architecture" | "tokenizer" | "maxPositions" | "probabilitiesBatch">;

export interface ProbeStep {
  ids: number[];
  position: number;
  targetId: number;
}

/** A fact prompt ready to measure. */
export interface FactProbe {
  prompt: string;
  targetIds: number[];
  steps: ProbeStep[];
}

export interface FactMeasurement {
  /** Product over the object pieces of P(piece) at its step. */
  probability: number;
  pieceProbabilities: number[];
  /** Greedy answer: argmax at each mask (masked), greedy continuation of k tokens (causal). */
  answerIds: number[];
  /** The answer decoded without special tokens, trimmed. */
  answer: string;
}

/**
 * The clean-mode probe of one fact prompt, or a reason it cannot be measured (the template does
 * not fit the architecture, the object encodes to nothing, the prompt exceeds the context).
 */
export function factProbe(model: EditingModel, fact: PromptFact): FactProbe | { error: string } {
  try {
    const prompt = buildPrompt(model.tokenizer, fact, model.architecture);
    const blankId = model.architecture === "masked" ? (model.tokenizer.maskId ?? -1) : -1;
    const steps = cleanSteps(model.architecture, blankId, prompt.inputIds, prompt.targetIds);
    const longest = Math.max(...steps.map((s) => s.ids.length));
    if (longest > model.maxPositions) return { error: `the prompt needs ${longest} tokens, the model has ${model.maxPositions} positions` };
    return { prompt: prompt.text, targetIds: prompt.targetIds, steps: steps.map((s) => ({ ids: s.ids, position: s.position, targetId: s.targetId })) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export function argmax(p: Float32Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

const samePrefix = (a: readonly number[], b: readonly number[], n: number) => a.slice(0, n).every((x, i) => x === b[i]);

/**
 * Measures many probes in few batched passes. Gold steps run together; a causal greedy answer
 * that leaves the gold prefix needs its own passes, one per further token (batched per depth).
 */
export async function measureFacts(model: EditingModel, probes: readonly FactProbe[], scale?: NeuronScale): Promise<FactMeasurement[]> {
  const requests: ProbabilityRequest[] = [];
  const index = probes.map((p) => p.steps.map((s) => requests.push({ ids: s.ids, position: s.position, scale }) - 1));
  const dists = requests.length ? await model.probabilitiesBatch(requests) : [];
  const pieceProbabilities = probes.map((p, k) => p.steps.map((s, j) => dists[index[k][j]][s.targetId]));
  const answers = probes.map((p, k) => (p.steps.length ? [argmax(dists[index[k][0]])] : []));
  if (model.architecture === "masked") {
    probes.forEach((p, k) => (answers[k] = p.steps.map((_, j) => argmax(dists[index[k][j]]))));
  } else {
    const prompts = probes.map((p) => p.steps[0]?.ids ?? []);
    for (let depth = 1; probes.some((p) => p.steps.length > depth); depth++) {
      const off: number[] = [];
      probes.forEach((p, k) => {
        if (p.steps.length <= depth) return;
        // on the gold path the teacher-forced pass already holds this distribution
        if (samePrefix(answers[k], p.targetIds, depth)) answers[k].push(argmax(dists[index[k][depth]]));
        else off.push(k);
      });
      if (!off.length) continue;
      const extra = await model.probabilitiesBatch(
        off.map((k) => {
          const ids = [...prompts[k], ...answers[k]];
          return { ids, position: ids.length - 1, scale };
        }),
      );
      off.forEach((k, j) => answers[k].push(argmax(extra[j])));
    }
  }
  return probes.map((_, k) => ({
    probability: pieceProbabilities[k].reduce((a, b) => a * b, 1),
    pieceProbabilities: pieceProbabilities[k],
    answerIds: answers[k],
    // special tokens (a causal model's <|endoftext|>, BERT's [SEP]) are not part of an answer
    answer: model.tokenizer.decode(answers[k], { skipSpecialTokens: true }).trim(),
  }));
}

/**
 * Δ = (P_after − P_before) / P_before (§5.2). A probability that underflowed to 0 before the edit
 * has no relative change: 0 if it is still 0, otherwise the largest finite number.
 */
export function relativeChange(before: number, after: number): number {
  if (before > 0) return (after - before) / before;
  return after === 0 ? 0 : Number.MAX_VALUE;
}

/**
 * The two UPDATE rules. Both orient the change by the sign s of each neuron's activation m at the
 * edited prompt: the layer adds m·v to the residual stream, so for m < 0 the step is reversed
 * (without s a negative neuron would be pushed towards the old answer). Both take a step of the
 * same length, λ·‖E[y_new] − E[y_old]‖, and differ in its direction:
 *   embedding (§5.5, AMIG/EleutherAI):  v − s·λ·E[y_old] + s·λ·E[y_new], E the input embedding;
 *   gradient:  v + s·λ·‖E[y_new] − E[y_old]‖·ĝ, ĝ the unit gradient of log P(y_new) with respect
 *              to the layer's FFN output at the prompt's object position: the direction that
 *              raises y_new through the model's own upper layers and output head (for BERT
 *              including the head's dense layer, GELU and LayerNorm, which can turn an
 *              E-direction step away from y_new). To first order it raises log P(y_new) by
 *              λ·|m|·‖ΔE‖·‖g‖ at the edited prompt.
 */
export type UpdateRule = "embedding" | "gradient";
export const UPDATE_RULES: readonly UpdateRule[] = ["embedding", "gradient"];

/** The sign an UPDATE applies for an activation: +1 for m ≥ 0 (m = 0 adds nothing at the prompt anyway). */
export const activationSign = (m: number): 1 | -1 => (m < 0 ? -1 : 1);

/** The embedding rule for one neuron: v − s·λ·E[y_old] + s·λ·E[y_new] (s = +1 is §5.5's formula, bit for bit). */
export function updatedValueVector(v: Float32Array, oldEmbedding: Float32Array, newEmbedding: Float32Array, lambda = UPDATE_LAMBDA, sign = 1): Float32Array {
  if (oldEmbedding.length !== v.length || newEmbedding.length !== v.length) throw new Error("value vector and embeddings differ in size");
  const out = new Float32Array(v.length);
  const k = sign * lambda;
  for (let j = 0; j < v.length; j++) out[j] = v[j] - k * oldEmbedding[j] + k * newEmbedding[j];
  return out;
}

/** The gradient rule for one neuron: v + s·λ·length·ĝ. */
export function gradientUpdatedValueVector(v: Float32Array, unitGradient: ArrayLike<number>, length: number, lambda = UPDATE_LAMBDA, sign = 1): Float32Array {
  if (unitGradient.length !== v.length) throw new Error("value vector and gradient differ in size");
  const out = new Float32Array(v.length);
  const k = sign * lambda * length;
  for (let j = 0; j < v.length; j++) out[j] = v[j] + k * unitGradient[j];
  return out;
}

export interface WeightEditParams {
  oldTokenId?: number;
  newTokenId?: number;
  strength?: number;
  /** UPDATE: the rule (embedding when absent, as in edits stored before it existed). */
  rule?: UpdateRule;
  /** UPDATE: per neuron, the sign of its activation at the edited prompt (all +1 when absent, as in edits stored before signs existed). */
  signs?: number[];
  /** UPDATE, gradient rule: per neuron, its layer's unit gradient ĝ (float32 values), saved so a re-application writes the same bits. */
  gradients?: number[][];
}

/** What computing an UPDATE's signs and gradients needs from a model. */
export type UpdateModel = Pick<LanguageModel, "activations" | "outputGradients">;

/**
 * The signs (and for the gradient rule the unit gradients) of an UPDATE, read at the edited
 * prompt's first object position: the activations there and ∂ log P(y_new)/∂(FFN output).
 */
export async function updateDirections(
  model: UpdateModel,
  step: { ids: readonly number[]; position: number },
  neurons: readonly Neuron[],
  newTokenId: number,
  rule: UpdateRule,
): Promise<Pick<WeightEditParams, "signs" | "gradients">> {
  // the hookable activation is GELU's output (BERT) or input (GPT-2): GELU keeps the sign
  const activations = await model.activations(step.ids, step.position);
  const signs = neurons.map(([layer, unit]) => activationSign(activations[layer][unit]));
  if (rule === "embedding") return { signs };
  const layers = [...new Set(neurons.map((n) => n[0]))];
  const grads = await model.outputGradients(step.ids, step.position, layers, newTokenId);
  const unitOf = new Map(layers.map((l, k) => [l, unitVector(grads[k])]));
  return { signs, gradients: neurons.map(([layer]) => Array.from(unitOf.get(layer)!)) };
}

function euclidean(v: ArrayLike<number>): number {
  let n = 0;
  for (let j = 0; j < v.length; j++) n += v[j] * v[j];
  return Math.sqrt(n);
}

function unitVector(v: Float32Array): Float32Array {
  const n = euclidean(v);
  if (!(n > 0 && Number.isFinite(n))) throw new Error("the gradient of the new object at the prompt is zero or not finite: no direction to update along");
  return v.map((x) => x / n);
}

/**
 * The value vectors a weight edit writes, computed from the ORIGINAL vectors: ERASE gives zeros,
 * UPDATE applies its rule (see UpdateRule). Re-applying a stored edit after a restart calls this
 * with the saved originals and params (signs and gradients included), so it writes the very
 * same bits.
 */
export async function weightEditVectors(
  kind: "erase" | "update",
  original: readonly Float32Array[],
  params: WeightEditParams,
  embedding: (tokenId: number) => Promise<Float32Array>,
): Promise<Float32Array[]> {
  if (kind === "erase") return original.map((v) => new Float32Array(v.length));
  if (params.oldTokenId === undefined || params.newTokenId === undefined) throw new Error("an UPDATE edit needs oldTokenId and newTokenId");
  const eOld = await embedding(params.oldTokenId);
  const eNew = await embedding(params.newTokenId);
  const lambda = params.strength ?? UPDATE_LAMBDA;
  const sign = (k: number) => params.signs?.[k] ?? 1;
  if ((params.rule ?? "embedding") === "embedding") return original.map((v, k) => updatedValueVector(v, eOld, eNew, lambda, sign(k)));
  if (params.gradients?.length !== original.length) throw new Error("a gradient-rule UPDATE needs one saved gradient per neuron");
  const length = euclidean(eNew.map((x, j) => x - eOld[j]));
  return original.map((v, k) => gradientUpdatedValueVector(v, params.gradients![k], length, lambda, sign(k)));
}

/** y_new of §5.5: the first piece of the new object, encoded as the fact's gold would be. */
export function newObjectTokenId(model: Pick<EditingModel, "architecture" | "tokenizer">, newObject: string, language: string): number | undefined {
  return objectPieces(model.tokenizer, newObject, language, model.architecture)[0];
}

export interface ActiveActivationEdit {
  kind: ActivationKind;
  neurons: readonly Neuron[];
}

export type CombinedScale = { ok: true; scale: NeuronScale | undefined } | { ok: false; reason: string };

const neuronKey = (n: Neuron) => `${n[0]}:${n[1]}`;

/**
 * The one scale that applies every active activation edit. Per neuron: ×0 if any active edit
 * suppresses it, else ×2 if any enhances it (edits do not stack: two enhancements are still ×2,
 * so reverting one leaves the other's effect exactly as it was applied alone). A probability
 * pass takes ONE factor, so suppressed and (only) enhanced neurons cannot be active together:
 * that combination is refused rather than approximated.
 */
export function combineActivationEdits(edits: readonly ActiveActivationEdit[]): CombinedScale {
  const suppressed = new Map<string, Neuron>();
  const enhanced = new Map<string, Neuron>();
  for (const e of edits) for (const n of e.neurons) (e.kind === "suppress" ? suppressed : enhanced).set(neuronKey(n), [n[0], n[1]]);
  for (const k of suppressed.keys()) enhanced.delete(k);
  if (suppressed.size && enhanced.size) {
    return { ok: false, reason: `${suppressed.size} suppressed and ${enhanced.size} enhanced neuron(s) would be active at once; a pass applies one activation factor` };
  }
  if (suppressed.size) return { ok: true, scale: { neurons: [...suppressed.values()], factor: ACTIVATION_FACTOR.suppress } };
  if (enhanced.size) return { ok: true, scale: { neurons: [...enhanced.values()], factor: ACTIVATION_FACTOR.enhance } };
  return { ok: true, scale: undefined };
}

export interface EffectSummaryInput {
  language: string;
  related: boolean;
  change: number;
}

export interface EditSummary {
  /** Mean Δ on the edited fact in the source language. */
  reliability: number | null;
  /** Mean Δ on the edited fact in its other languages. */
  generality: number | null;
  /** Mean Δ on the unrelated facts. */
  locality: number | null;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** §5.4 mapped to editing vocabulary; null where nothing was measured. */
export function summarizeEffects(effects: readonly EffectSummaryInput[], sourceLanguage: string | null): EditSummary {
  return {
    reliability: mean(effects.filter((e) => e.related && e.language === sourceLanguage).map((e) => e.change)),
    generality: mean(effects.filter((e) => e.related && e.language !== sourceLanguage).map((e) => e.change)),
    locality: mean(effects.filter((e) => !e.related).map((e) => e.change)),
  };
}

/** Deduplicates a neuron list, keeping the first occurrence's order. */
export function uniqueNeurons(neurons: readonly Neuron[]): Neuron[] {
  const seen = new Set<string>();
  const out: Neuron[] = [];
  for (const n of neurons) {
    if (seen.has(neuronKey(n))) continue;
    seen.add(neuronKey(n));
    out.push([n[0], n[1]]);
  }
  return out;
}

// Raw byte copies (no float round trip, so even NaN payloads survive); float32 in memory is
// little-endian on every platform Node runs on, which the stored format assumes.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Original value vectors as bytes (little-endian float32, neuron after neuron) and back. */
export function packVectors(vectors: readonly Float32Array[]): Buffer {
  if (!LITTLE_ENDIAN) throw new Error("saved weights are stored little-endian; this platform is big-endian");
  return Buffer.concat(vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
}

export function unpackVectors(bytes: Uint8Array, count: number): Float32Array[] {
  if (!LITTLE_ENDIAN) throw new Error("saved weights are stored little-endian; this platform is big-endian");
  if (count === 0 || bytes.byteLength % (4 * count) !== 0) throw new Error(`${bytes.byteLength} bytes do not hold ${count} float32 vectors`);
  const width = bytes.byteLength / 4 / count;
  return Array.from({ length: count }, (_, k) => {
    const v = new Float32Array(width);
    new Uint8Array(v.buffer).set(bytes.subarray(4 * k * width, 4 * (k + 1) * width));
    return v;
  });
}
