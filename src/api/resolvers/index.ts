import { analysisResolvers } from "./analysis.ts";
import { catalogResolvers } from "./catalog.ts";
import { evaluationResolvers } from "./evaluation.ts";
import { factCheckingResolvers } from "./fact-checking.ts";
import { editingResolvers } from "./editing.ts";
import { indexingResolvers } from "./indexing.ts";
import { neuronResolvers } from "./neurons.ts";

type ResolverMap = Record<string, Record<string, unknown>>;

/** Merges the resolver maps of each area of the schema. */
function merge(...maps: ResolverMap[]): ResolverMap {
  const out: ResolverMap = {};
  for (const map of maps) for (const [type, fields] of Object.entries(map)) out[type] = { ...out[type], ...fields };
  return out;
}

export const resolvers = merge(catalogResolvers, neuronResolvers, indexingResolvers, analysisResolvers, evaluationResolvers, editingResolvers, factCheckingResolvers);
