import type { Resolvers } from "../generated/resolvers.ts";
import { DateTime } from "../scalars.ts";
import { analysisResolvers } from "./analysis.ts";
import { catalogResolvers } from "./catalog.ts";
import { evaluationResolvers } from "./evaluation.ts";
import { factCheckingResolvers } from "./fact-checking.ts";
import { editingResolvers } from "./editing.ts";
import { indexingResolvers } from "./indexing.ts";
import { neuronResolvers } from "./neurons.ts";

/** Merges the resolver maps of each area of the schema (types generated from schema.graphql: npm run codegen). */
function merge(...maps: Resolvers[]): Resolvers {
  const out: Record<string, unknown> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      out[type] = fields instanceof Object && !("serialize" in fields) ? { ...(out[type] as object), ...fields } : fields;
    }
  }
  return out as Resolvers;
}

export const resolvers: Resolvers = merge(
  { DateTime },
  catalogResolvers,
  neuronResolvers,
  indexingResolvers,
  analysisResolvers,
  evaluationResolvers,
  editingResolvers,
  factCheckingResolvers,
);
