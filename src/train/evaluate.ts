// Top-1 accuracy of a model on the seed facts, through the model runtime (src/model) and the
// prompts the indexer attributes (src/attribution/prompts.ts): a fact is right when the model's
// greedy answer is its object, by the one rule of src/attribution/answer.ts (masked LM: the argmax
// at each of the k masks; causal LM: greedy continuation of k tokens after the prompt cut at [Y]).
import { answersObject, answerText, decodeGreedy } from "../attribution/answer.ts";
import { factProbe } from "../attribution/editing.ts";
import { PromptError } from "../attribution/prompts.ts";
import type { LanguageModel } from "../model/index.ts";
import type { SeedFact } from "./seeds.ts";

export interface FactResult {
  fact: SeedFact;
  correct: boolean;
  /** The greedy answer's ids (masked: the argmax pieces; causal: the continuation). */
  predictedIds: number[];
  /** The greedy answer decoded (special tokens skipped, trimmed). */
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

export async function evaluateFacts(model: LanguageModel, facts: readonly SeedFact[], options: EvalOptions = {}): Promise<FactResult[]> {
  const chunk = options.chunk ?? 256;
  const results: FactResult[] = [];
  for (let start = 0; start < facts.length; start += chunk) {
    const part = facts.slice(start, start + chunk);
    const probes = part.map((f) => {
      const probe = factProbe(model, f);
      if ("error" in probe) throw new PromptError(`${f.language} ${f.relation} ${f.subject}: ${probe.error}`);
      return probe;
    });
    const decoded = await decodeGreedy(model, probes);
    part.forEach((fact, i) => {
      const { answerIds } = decoded[i];
      const correct = answersObject(model.tokenizer, fact.language, answerIds, probes[i].targetIds);
      results.push({ fact, correct, predictedIds: answerIds, predicted: answerText(model.tokenizer, answerIds), pieces: probes[i].targetIds.length });
    });
    options.onProgress?.(Math.min(start + chunk, facts.length), facts.length);
  }
  return results;
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
