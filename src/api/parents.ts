// The parent objects the resolvers of each GraphQL type receive (codegen.ts maps the schema's
// types to these), so generated resolver types check what a parent field returns.
import type { Checkpoint, Fact, Relation } from "../store/generated/client.ts";
import type { EditRow, EffectRow } from "../store/edits.ts";
import type { JobSummary } from "../store/index-jobs.ts";
import type { RunRow } from "../store/neurons.ts";

/** A stored run (Attribution, KnowledgeNeuronSet) with its model's name. */
export interface RunParent {
  run: RunRow;
  model: string;
}

export interface GridParent {
  run: RunParent;
  layers: number;
  width: number;
  scores: Float32Array | number[];
  maxScore: number;
  source: "STORED" | "COMPUTED" | "CACHED";
}

export interface NeuronParent {
  checkpoint: Checkpoint;
  layer: number;
  unit: number;
}

export type IndexJobParent = JobSummary;

export interface EditParent extends EditRow {
  effects: EffectRow[];
}

export type EffectParent = EffectRow;

export interface SearchHitParent {
  factId: string;
  language: string;
  subject: string;
  object: string;
  field: "SUBJECT" | "OBJECT";
}

export interface NeuronFactEdgeParent {
  cursor: string;
  node: Fact | Promise<Fact | null>;
  languages: string[];
  score: number;
}

export interface NeuronDegenerateSetParent {
  factId: string;
  language: string;
  set: { baseProbability: number; jointProbability: number; neurons: { layer: number; unit: number; aloneProbability: number }[] };
}

export interface LanguageOverlapParent {
  model: string;
  relation: Relation;
  languages: string[];
  cells: { row: string; column: string; facts: number; meanShared: number; meanJaccard: number }[];
}

export interface RelationCountParent {
  relationId: string;
  facts: number;
}

/** A row of indexingCoverage; the degenerate-set counts of all its rows come from one statement, asked when selected. */
export interface CoverageParent {
  model: string;
  relation: string;
  language: string;
  facts: number;
  indexed: number;
  share: number;
  knowledgeNeurons: number;
  degenerateSets: () => Promise<number>;
}
