// Localization quality (ALGORITHMS.md §8): suppressing a fact's knowledge neurons should lower its
// gold probability, enhancing them should raise it, and neither should move an unrelated fact.
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import type { AnalysisStore, IndexedFact, LocalizationMeasureRecord, RunScope } from "./analysis-store.ts";
import { CONTROLS, type Control, controlScores, layerCounts, randomPerLayer, topPerLayer } from "./controls.ts";
import { type ScaleEffect, scaleEffects } from "./gold-probabilities.ts";
import { seededRandom, seededShuffle } from "./random.ts";

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
  const e = await scaleEffects(model, pairs.flatMap(({ f, other }) => [{ fact: f, neurons: f.neurons }, { fact: other, neurons: f.neurons }]), o.onProgress);
  const results = pairs.map(({ f, other }, k) => ({
    factId: f.factId,
    relationId: f.relationId,
    unrelatedFactId: other.factId,
    nNeurons: f.neurons.length,
    suppressRelated: e[2 * k].suppressRel,
    suppressUnrelated: e[2 * k + 1].suppressRel,
    enhanceRelated: e[2 * k].enhanceRel,
    enhanceUnrelated: e[2 * k + 1].enhanceRel,
  }));
  await store.saveLocalization({ checkpointId: o.checkpointId, setting: o.setting, language: o.language }, results);
  return results.length;
}

export interface MeasureOptions extends LocalizationOptions {
  /** Seeds of the unrelated-fact draws (default 42, 43, 44): one same-relation and one other-relation fact each. */
  seeds?: readonly number[];
  /** Draws of the random control (default 5). */
  randomDraws?: number;
  /** Controls measured (default all; `static` is left out when it is the method itself). */
  controls?: readonly Control[];
  /** Measure at most this many facts, a seeded sample (default: all). */
  maxFacts?: number;
}

export const DEFAULT_UNRELATED_SEEDS = [42, 43, 44] as const;
export const DEFAULT_RANDOM_DRAWS = 5;

/**
 * §13.2 per fact with a stored run in the language: the run's neurons (`kn`) and each control
 * matched to them, ×0 and ×2 on the fact; the run's neurons also on unrelated facts, one of the
 * same relation (another object) and one of another relation per seed. Every measure is stored
 * per fact (relative Δ, Δlog p, answer flip); earlier rows of the method and language are replaced.
 */
export async function measureLocalization(store: AnalysisStore, model: FactModel, o: MeasureOptions): Promise<number> {
  const all = await store.indexedFacts({ checkpointId: o.checkpointId, setting: o.setting, languages: [o.language] });
  const withNeurons = all.filter((f) => f.neurons.length);
  const facts = o.maxFacts !== undefined && withNeurons.length > o.maxFacts ? seededShuffle(withNeurons, `sample:${o.language}`).slice(0, o.maxFacts) : withNeurons;
  const controls = (o.controls ?? CONTROLS).filter((c) => c !== o.setting.method);
  const seeds = o.seeds ?? DEFAULT_UNRELATED_SEEDS;
  const draws = o.randomDraws ?? DEFAULT_RANDOM_DRAWS;
  const byRelation = new Map<string, IndexedFact[]>();
  for (const f of all) byRelation.set(f.relationId, [...(byRelation.get(f.relationId) ?? []), f]);
  const pick = (pool: readonly IndexedFact[], seed: string) => (pool.length ? pool[Math.floor(seededRandom(seed)() * pool.length)] : null);

  type Case = Omit<LocalizationMeasureRecord, keyof ScaleEffect> & { fact: IndexedFact; neurons: readonly Neuron[] };
  const cases: Case[] = [];
  for (const [i, f] of facts.entries()) {
    const base = { factId: f.factId, relationId: f.relationId, nNeurons: f.neurons.length };
    const related = { ...base, target: "related" as const, seed: 0, targetFactId: f.factId, fact: f };
    cases.push({ ...related, neuronSet: "kn", draw: 0, neurons: f.neurons });
    const counts = layerCounts(f.neurons, model.nLayers);
    if (controls.includes("random")) {
      for (let d = 0; d < draws; d++) cases.push({ ...related, neuronSet: "random", draw: d, neurons: randomPerLayer(counts, model.ffnWidth, seededRandom(`random:${o.setting.method}:${o.language}:${f.factId}:${d}`)) });
    }
    const deterministic = controls.filter((c): c is Exclude<Control, "random"> => c !== "random");
    if (deterministic.length) {
      const scores = await controlScores(model, f);
      for (const c of deterministic) cases.push({ ...related, neuronSet: c, draw: 0, neurons: topPerLayer(scores[c], counts) });
    }
    const lower = f.object.toLowerCase();
    const same = (byRelation.get(f.relationId) ?? []).filter((g) => g.factId !== f.factId && g.object.toLowerCase() !== lower);
    const other = all.filter((g) => g.relationId !== f.relationId);
    for (const seed of seeds) {
      for (const [target, pool] of [["same-relation", same], ["other-relation", other]] as const) {
        const g = pick(pool, `${seed}:${o.language}:${f.factId}:${target}`);
        if (g) cases.push({ ...base, target, seed, targetFactId: g.factId, fact: g, neuronSet: "kn", draw: 0, neurons: f.neurons });
      }
    }
    o.onProgress?.(i + 1, facts.length);
  }
  const effects = await scaleEffects(model, cases, o.onProgress);
  const records: LocalizationMeasureRecord[] = cases.map(({ fact: _fact, neurons: _neurons, ...c }, k) => ({ ...c, ...effects[k] }));
  await store.saveLocalizationMeasures({ checkpointId: o.checkpointId, setting: o.setting, language: o.language }, records);
  return facts.length;
}
