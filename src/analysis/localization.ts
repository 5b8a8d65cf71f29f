// Localization quality (ALGORITHMS.md §8): suppressing a fact's knowledge neurons should lower its
// gold probability, enhancing them should raise it, and neither should move an unrelated fact.
import type { FactModel } from "../attribution/model-port.ts";
import type { AnalysisStore, IndexedFact, RunScope } from "./analysis-store.ts";
import { measureChanges } from "./gold-probabilities.ts";
import { seededRandom } from "./random.ts";

export interface LocalizationOptions extends RunScope {
  language: string;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * For every fact with a stored run in the language: Δ(suppress) and Δ(enhance ×2) on the fact and on
 * one unrelated fact drawn uniformly from the same language (seeded, redrawn on collision), with the
 * fact's own neurons applied to both. Results replace earlier ones (unique per fact and method).
 */
export async function evaluateLocalization(store: AnalysisStore, model: FactModel, o: LocalizationOptions): Promise<number> {
  const facts = await store.indexedFacts({ checkpointId: o.checkpointId, setting: o.setting, languages: [o.language] });
  if (facts.length < 2) return 0;
  const random = seededRandom(`${o.seed ?? 42}:${o.language}:${o.setting.method}`);
  // partners drawn in fact order, so the seed alone fixes who is paired with whom
  const pairs: { f: IndexedFact; other: IndexedFact }[] = [];
  for (const [i, f] of facts.entries()) {
    if (!f.neurons.length) continue;
    let j = Math.floor(random() * facts.length);
    while (j === i) j = Math.floor(random() * facts.length);
    pairs.push({ f, other: facts[j] });
  }
  const changes = await measureChanges(model, pairs.map(({ f, other }) => ({ related: f, unrelated: other, neurons: f.neurons })), o.onProgress);
  const results = pairs.map(({ f, other }, k) => ({ factId: f.factId, relationId: f.relationId, unrelatedFactId: other.factId, nNeurons: f.neurons.length, ...changes[k] }));
  await store.saveLocalization({ checkpointId: o.checkpointId, setting: o.setting, language: o.language }, results);
  return results.length;
}
