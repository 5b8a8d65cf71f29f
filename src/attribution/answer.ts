// "Does the model answer the object?" One greedy decoder and one rule, shared by `kn eval`
// (src/train/evaluate.ts), fact-checking's direct-answer baseline (§7.3) and editing's before/after
// answers, on the prompts the indexer attributes (buildPrompt, clean mode):
//   decoder: masked LM, the argmax at each of the k masks (the other masks stay masks); causal LM,
//            greedy continuation of k tokens (k = the object's pieces);
//   rule:    the answer is the object when its ids are the gold pieces, or when it decodes (special
//            tokens skipped, trimmed) to the text the gold pieces decode to; in languages written
//            without spaces whitespace is ignored, since a WordPiece decoder joins Chinese
//            characters with spaces ("都 柏 林").
import type { LanguageModel, NeuronScale, ProbabilityRequest } from "../model/language-model.ts";
import { isSpacedLanguage } from "./prompts.ts";

/** Index of the largest value, the first one on ties. */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

type Decoder = { decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string };

/** What decoding needs from a model. */
export type DecodingModel = Pick<LanguageModel, "architecture" | "probabilitiesBatch"> & { readonly tokenizer: Decoder };

/** One prompt to decode: per object piece, the input and the position to read (buildPrompt + cleanSteps). */
export interface DecodeProbe {
  targetIds: readonly number[];
  steps: ReadonlyArray<{ ids: readonly number[]; position: number; targetId: number }>;
}

export interface Decoded {
  /** P(piece) at each teacher-forced step. */
  pieceProbabilities: number[];
  /** The greedy answer, as many tokens as the object has pieces. */
  answerIds: number[];
}

const samePrefix = (a: readonly number[], b: readonly number[], n: number) => a.slice(0, n).every((x, i) => x === b[i]);

/**
 * Greedy answers and gold-piece probabilities of many probes in few batched passes. The gold
 * (teacher-forced) steps run together; a causal answer that leaves the gold prefix needs its own
 * passes, one per further token (batched per depth). `scale` applies to every pass.
 */
export async function decodeGreedy(model: DecodingModel, probes: readonly DecodeProbe[], scale?: NeuronScale): Promise<Decoded[]> {
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
  return probes.map((_, k) => ({ pieceProbabilities: pieceProbabilities[k], answerIds: answers[k] }));
}

/** An answer as text: special tokens (a causal model's <|endoftext|>, BERT's [SEP]) are not part of it. */
export function answerText(tokenizer: Decoder, ids: readonly number[]): string {
  return tokenizer.decode(ids, { skipSpecialTokens: true }).trim();
}

/** The rule: the answer is the object (see the top of this file). */
export function answersObject(tokenizer: Decoder, language: string, answerIds: readonly number[], targetIds: readonly number[]): boolean {
  if (answerIds.length === targetIds.length && answerIds.every((id, i) => id === targetIds[i])) return true;
  const normalize = (ids: readonly number[]) => {
    const text = answerText(tokenizer, ids);
    return isSpacedLanguage(language) ? text : text.replace(/\s+/gu, "");
  };
  return normalize(answerIds) === normalize(targetIds);
}
