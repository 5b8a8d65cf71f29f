// Language-independent and degenerate knowledge neurons, cross-language overlap and per-layer
// distributions over the stored runs.
import { relationLanguageIndependentNeurons, relationLanguageOverlap } from "../../store/likn.ts";
import { findRun, languagesWithRuns } from "../../store/neurons.ts";
import { layerDistribution } from "../../store/relation-stats.ts";
import type { ApiContext } from "../context.ts";
import { settingFromApi } from "../enums.ts";
import { badInput } from "../errors.ts";
import type { Resolvers } from "../generated/resolvers.ts";
import { checkLanguage, checkRelationId, requireRelation } from "./catalog.ts";
import { requireFact, requireModel } from "./neurons.ts";

function checkLanguages(languages: readonly string[]): string[] {
  if (languages.length === 0) throw badInput("languages must list at least one language", "languages");
  return [...new Set(languages.map((l) => checkLanguage(l, "languages")))];
}

/** Model and relation of a nullable relation-wide statistic: null when either is unknown. */
async function scopeOf(ctx: ApiContext, model: string, relation: string | null | undefined) {
  const relationId = relation == null ? null : checkRelationId(relation);
  const [checkpoint, rel] = await Promise.all([ctx.loaders.checkpoint.load(model), relationId ? ctx.loaders.relation.load(relationId) : null]);
  if (!checkpoint || (relationId && !rel)) return null;
  return { checkpoint, relation: rel };
}

export const analysisResolvers: Resolvers = {
  Query: {
    async languageIndependentNeurons(_, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      const relation = await requireRelation(ctx, args.relation);
      const minFacts = args.minFacts ?? 1;
      if (!Number.isInteger(minFacts) || minFacts < 1) throw badInput("minFacts must be a positive integer", "minFacts");
      // the rows are { layer, unit, facts } as the schema's type, kept with the relation's index (read only)
      return relationLanguageIndependentNeurons(ctx.pool, {
        checkpointId: checkpoint.id,
        setting: settingFromApi(args),
        relationId: relation.id,
        languages: checkLanguages(args.languages),
        minFacts,
      });
    },
    async degenerateSets(_, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      await requireFact(ctx, args.fact);
      const run = await findRun(ctx.pool, { checkpointId: checkpoint.id, setting: settingFromApi(args), factId: args.fact, language: checkLanguage(args.language) });
      if (!run) return [];
      return (await ctx.loaders.degenerateSets.load(run)).map((s) => ({
        baseProbability: s.baseProb,
        jointProbability: s.jointProb,
        neurons: s.members.map((m) => ({ layer: m.layer, unit: m.unit, aloneProbability: m.aloneProb })),
      }));
    },
    async languageOverlap(_, args, ctx) {
      const setting = settingFromApi(args);
      const languages = args.languages == null ? null : checkLanguages(args.languages);
      const scope = await scopeOf(ctx, args.model, args.relation);
      if (!scope?.relation) return null;
      const q = { checkpointId: scope.checkpoint.id, setting, relationId: scope.relation.id };
      const order = languages ?? (await languagesWithRuns(ctx.pool, q));
      if (order.length > 63) throw badInput("languageOverlap compares at most 63 languages", "languages");
      // every ordered pair, row-major, with zeros where the two languages share no indexed fact
      const pairs = await relationLanguageOverlap(ctx.pool, { ...q, languages: order });
      return {
        model: scope.checkpoint.name,
        relation: scope.relation,
        languages: order,
        // means over the facts with runs in both languages (a fact with an empty union counts 0)
        cells: pairs.map((p) => ({ row: p.a, column: p.b, facts: p.facts, meanShared: p.facts ? p.shared / p.facts : 0, meanJaccard: p.facts ? p.jaccardSum / p.facts : 0 })),
      };
    },
    async layerDistribution(_, args, ctx) {
      const setting = settingFromApi(args);
      const languages = args.languages == null ? null : checkLanguages(args.languages);
      const scope = await scopeOf(ctx, args.model, args.relation);
      if (!scope) return null;
      const q = { checkpointId: scope.checkpoint.id, setting, relationId: scope.relation?.id ?? null };
      const rows = await layerDistribution(ctx.pool, { ...q, languages: languages ?? (await languagesWithRuns(ctx.pool, q)), nLayers: scope.checkpoint.nLayers });
      return rows.map((r) => {
        const neurons = r.perLayer.reduce((a, b) => a + b, 0);
        return {
          language: r.language,
          runs: r.runs,
          neurons,
          layers: r.perLayer.map((n, layer) => ({ layer, neurons: n, share: neurons ? n / neurons : 0, perRun: r.runs ? n / r.runs : 0 })),
        };
      });
    },
  },
  Fact: {
    async languageIndependentNeurons(fact, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      const neurons = await ctx.loaders.factLanguageIndependentNeurons.load({
        checkpointId: checkpoint.id,
        setting: settingFromApi(args),
        factId: fact.id,
        languages: checkLanguages(args.languages),
      });
      return neurons.map(([layer, unit]) => ({ layer, unit }));
    },
  },
};
