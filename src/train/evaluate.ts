// Top-1 accuracy of a model on the seed facts, through the model runtime (src/model) and the
// shared prompt builders (src/attribution/prompts.ts), exactly as the attribution engine sees
// the model:
//   masked LM: the object slot holds k mask tokens for a k-piece object; correct when the argmax
//              at every mask is its gold piece;
//   causal LM: greedy continuation of len(object pieces) tokens after the prompt (template cut at
//              [Y]); correct when the decoded continuation, trimmed, equals the object label.
import {
  buildCausalPrompt,
  buildMaskedPrompt,
  causalContinuationCorrect,
  maskedPredictionCorrect,
  type CausalPrompt,
  type MaskedPrompt,
} from "../attribution/prompts.ts";
import type { LanguageModel, ProbabilityRequest } from "../model/index.ts";
import type { SeedFact } from "./seeds.ts";

export interface FactResult {
  fact: SeedFact;
  correct: boolean;
  /** Masked: the argmax piece ids; causal: the greedy continuation ids. */
  predictedIds: number[];
  /** Decoded prediction (causal: the continuation; masked: the predicted pieces). */
  predicted: string;
  /** Number of object pieces. */
  pieces: number;
}

export interface EvalSummary {
  overall: number;
  languages: Record<string, number>;
  relations: Record<string, number>;
  facts: number;
}

export interface EvalOptions {
  /** Facts per batched call (bounds memory). */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}

function argmax(p: Float32Array): number {
  let best = 0;
  for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
  return best;
}

export async function evaluateFacts(model: LanguageModel, facts: readonly SeedFact[], options: EvalOptions = {}): Promise<FactResult[]> {
  const chunk = options.chunk ?? 256;
  const results: FactResult[] = [];
  for (let start = 0; start < facts.length; start += chunk) {
    const part = facts.slice(start, start + chunk);
    results.push(...(model.architecture === "masked" ? await evaluateMasked(model, part) : await evaluateCausal(model, part)));
    options.onProgress?.(Math.min(start + chunk, facts.length), facts.length);
  }
  return results;
}

async function evaluateMasked(model: LanguageModel, facts: readonly SeedFact[]): Promise<FactResult[]> {
  const tok = model.tokenizer;
  const prompts: MaskedPrompt[] = facts.map((f) => buildMaskedPrompt(tok, f));
  const requests: ProbabilityRequest[] = [];
  const owner: number[] = [];
  prompts.forEach((p, i) =>
    p.targetPositions.forEach((position) => {
      requests.push({ ids: p.inputIds, position });
      owner.push(i);
    }),
  );
  const distributions = await model.probabilitiesBatch(requests);
  const predicted: number[][] = prompts.map(() => []);
  distributions.forEach((d, r) => predicted[owner[r]].push(argmax(d)));
  return facts.map((fact, i) => ({
    fact,
    correct: maskedPredictionCorrect(prompts[i], predicted[i]),
    predictedIds: predicted[i],
    predicted: tok.decode(predicted[i], { skipSpecialTokens: false }),
    pieces: prompts[i].targetIds.length,
  }));
}

async function evaluateCausal(model: LanguageModel, facts: readonly SeedFact[]): Promise<FactResult[]> {
  const tok = model.tokenizer;
  const prompts: CausalPrompt[] = facts.map((f) => buildCausalPrompt(tok, f));
  const generated: number[][] = prompts.map(() => []);
  const maxSteps = Math.max(...prompts.map((p) => p.targetIds.length));
  for (let step = 0; step < maxSteps; step++) {
    const active = prompts.map((p, i) => i).filter((i) => generated[i].length < prompts[i].targetIds.length);
    const distributions = await model.probabilitiesBatch(active.map((i) => ({ ids: [...prompts[i].inputIds, ...generated[i]] })));
    active.forEach((i, k) => generated[i].push(argmax(distributions[k])));
  }
  return facts.map((fact, i) => {
    const text = tok.decode(generated[i], { skipSpecialTokens: false });
    return {
      fact,
      correct: causalContinuationCorrect(text, prompts[i]),
      predictedIds: generated[i],
      predicted: text,
      pieces: prompts[i].targetIds.length,
    };
  });
}

/** Accuracy overall, per language and per relation (keys sorted). */
export function summarize(results: readonly FactResult[]): EvalSummary {
  const group = (key: (r: FactResult) => string) => {
    const right = new Map<string, number>();
    const total = new Map<string, number>();
    for (const r of results) {
      const k = key(r);
      total.set(k, (total.get(k) ?? 0) + 1);
      if (r.correct) right.set(k, (right.get(k) ?? 0) + 1);
    }
    const keys = [...total.keys()].sort((a, b) => relationOrder(a, b));
    return Object.fromEntries(keys.map((k) => [k, round4((right.get(k) ?? 0) / total.get(k)!)]));
  };
  const right = results.filter((r) => r.correct).length;
  return {
    overall: results.length ? round4(right / results.length) : 0,
    languages: group((r) => r.fact.language),
    relations: group((r) => r.fact.relation),
    facts: results.length,
  };
}

function relationOrder(a: string, b: string): number {
  const na = /^P\d+$/.test(a) ? Number(a.slice(1)) : NaN;
  const nb = /^P\d+$/.test(b) ? Number(b.slice(1)) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
