// τ calibration against a reference language (ALGORITHMS.md §13.6) on stored facts: a seeded
// sample of the facts labelled in both languages is attributed in each (the same method, steps
// and target mode as the runs it is for), and τ of the language is set by bisection so that its
// mean |KN| matches the reference's at the reference's τ (src/attribution/tau-calibration.ts).
import type { Pool } from "pg";
import { createHash } from "node:crypto";
import type { FactModel } from "../attribution/model-port.ts";
import { PromptError } from "../attribution/prompts.ts";
import type { NeuronSelection } from "../attribution/selection.ts";
import { type FactScores, calibratedSelection } from "../attribution/tau-calibration.ts";
import { factsLabelledInBoth } from "../store/calibration-sample.ts";
import { scores } from "../attribution/knowledge-neurons.ts";
import type { RunSetting } from "../attribution/run-setting.ts";
import { factContexts } from "../store/index-jobs.ts";

export interface CalibrationRequest {
  setting: RunSetting;
  /** Languages to calibrate (the reference itself is skipped). */
  languages: readonly string[];
  relations: readonly string[];
  reference: { language: string; tau: number };
  /** Facts per language (default 50). */
  facts?: number;
  seed?: string;
  onProgress?: (language: string, done: number, total: number) => void;
}

export interface LanguageCalibration {
  language: string;
  selection: NeuronSelection;
  /** Facts of the shuffled sample that could not be attributed in one of the two languages (no usable template, …). */
  skipped: number;
}

export class CalibrationError extends Error {}

/**
 * Fact ids in an order fixed by the seed alone (sorted by a hash of seed and id), so that every
 * language draws the same facts wherever they are labelled and en's sample, and so its mean
 * |KN|, is the same for all of them.
 */
export function seededOrder(factIds: readonly string[], seed: string): string[] {
  const key = (id: string) => createHash("sha1").update(`${seed}|${id}`).digest("hex");
  return factIds.map((id) => ({ id, k: key(id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0)).map((x) => x.id);
}

/** Calibrates τ for each language; the reference's attributions are shared between languages. */
export async function calibrateLanguages(pool: Pool, model: FactModel, req: CalibrationRequest): Promise<LanguageCalibration[]> {
  const n = req.facts ?? 50;
  const seed = req.seed ?? "42";
  const reference = req.reference.language;
  const cache = new Map<string, FactScores | null>();
  /** Attributes the (fact, language) pairs not yet cached; contexts come in one query. */
  const attributeAll = async (pairs: { factId: string; language: string }[]) => {
    const missing = pairs.filter((p) => !cache.has(`${p.factId}|${p.language}`));
    const contexts = await factContexts(pool, missing);
    for (const p of missing) {
      const key = `${p.factId}|${p.language}`;
      const fact = contexts.get(key);
      try {
        if (!fact) throw new PromptError(`fact ${p.factId} has no label in ${p.language}`);
        cache.set(key, (await scores(model, { ...fact, language: p.language }, req.setting)).attributions.map((a) => a.scores));
      } catch (err) {
        if (!(err instanceof PromptError)) throw err;
        cache.set(key, null); // no usable template, an empty object, …: the fact is skipped
      }
    }
  };

  const out: LanguageCalibration[] = [];
  for (const language of req.languages) {
    if (language === reference) continue;
    const candidates = seededOrder(await factsLabelledInBoth(pool, reference, language, req.relations), seed);
    const ref: FactScores[] = [];
    const target: FactScores[] = [];
    let skipped = 0;
    // Take candidates in shuffled order until n facts are attributed in both languages.
    for (let next = 0; target.length < n && next < candidates.length; ) {
      const chunk = candidates.slice(next, next + n - target.length);
      next += chunk.length;
      await attributeAll(chunk.flatMap((factId) => [{ factId, language: reference }, { factId, language }]));
      for (const factId of chunk) {
        const r = cache.get(`${factId}|${reference}`);
        const t = cache.get(`${factId}|${language}`);
        if (!r || !t) {
          skipped++;
          continue;
        }
        ref.push(r);
        target.push(t);
      }
      req.onProgress?.(language, target.length, Math.min(n, candidates.length));
    }
    if (!target.length) throw new CalibrationError(`no fact labelled in both ${reference} and ${language} could be attributed in both: τ of ${language} cannot be calibrated`);
    out.push({ language, selection: calibratedSelection({ ...req.reference, facts: ref }, target, seed), skipped });
  }
  return out;
}
