// What the analyses read and write, as an interface: the science runs on any implementation (the
// PostgreSQL one is src/store/analysis.ts; tests use plain objects) and never sees a database.
import type { Neuron } from "../attribution/model-port.ts";
import type { RunSetting } from "../attribution/run-setting.ts";
import type { NeuronSetName } from "./controls.ts";
import type { ScaleEffect } from "./gold-probabilities.ts";

/** A fact with a stored run in one language: what re-running its prompt needs, and its neurons. */
export interface IndexedFact {
  factId: string;
  relationId: string;
  language: string;
  template: string;
  subject: string;
  object: string;
  /** The run's knowledge neurons, ranked. */
  neurons: (readonly [number, number])[];
}

/** A fact in one language with its first wrong-object candidate (fact-checking, §7). */
export interface FactCheckItem {
  factId: string;
  relationId: string;
  template: string;
  subject: string;
  object: string;
  wrong: string;
}

/** One fact's localization measurement (§8). */
export interface LocalizationRecord {
  factId: string;
  relationId: string;
  unrelatedFactId: string;
  nNeurons: number;
  suppressRelated: number;
  suppressUnrelated: number;
  enhanceRelated: number;
  enhanceUnrelated: number;
}

/** One fact's §13.2 measurement: a neuron set (the run's or a control) scaled on one target fact. */
export interface LocalizationMeasureRecord extends ScaleEffect {
  neuronSet: NeuronSetName;
  /** Random control: the draw; 0 otherwise. */
  draw: number;
  factId: string;
  relationId: string;
  target: "related" | "same-relation" | "other-relation";
  /** Seed of the unrelated draw; 0 for related. */
  seed: number;
  targetFactId: string;
  nNeurons: number;
}

export interface RunScope {
  checkpointId: number;
  setting: RunSetting;
}

export interface AnalysisStore {
  /** Facts with a run of the setting in any of the languages, ordered by fact, then language. */
  indexedFacts(q: RunScope & { languages: readonly string[] }): Promise<IndexedFact[]>;
  /** The facts in every language they are labelled in (first template), runs or not; neurons empty. Ordered by fact, then language. */
  factLabels(factIds: readonly string[]): Promise<IndexedFact[]>;
  /** The facts of a language that have a wrong-object candidate, ordered by relation, then fact. */
  factCheckItems(language: string): Promise<FactCheckItem[]>;
  /** Per fact of the relation: the neurons of each degenerate set of its run in the language. */
  degenerateNeuronsByFact(q: RunScope & { relationId: string; language: string }): Promise<Map<string, Neuron[][]>>;
  /** Stores localization results, replacing earlier ones of the same fact, language and method. */
  saveLocalization(q: RunScope & { language: string }, results: readonly LocalizationRecord[]): Promise<void>;
  /** Stores §13.2 measures, replacing every earlier row of the checkpoint, method and language. */
  saveLocalizationMeasures(q: RunScope & { language: string }, rows: readonly LocalizationMeasureRecord[]): Promise<void>;
}
