// Language-independent and degenerate knowledge neurons over the stored runs.
import { degenerateSetsOfRun } from "../../store/degenerate.ts";
import type { Fact } from "../../store/generated/client.ts";
import { factLanguageIndependentNeurons, relationLanguageIndependentNeurons } from "../../store/likn.ts";
import { findRun } from "../../store/neurons.ts";
import type { ApiContext } from "../context.ts";
import { settingFromApi } from "../enums.ts";
import { badInput, notFound } from "../errors.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { type RunArgs, requireFact, requireModel } from "./neurons.ts";

function checkLanguages(languages: string[]): string[] {
  if (languages.length === 0) throw badInput("languages must list at least one language", "languages");
  return [...new Set(languages.map((l) => checkLanguage(l, "languages")))];
}

export const analysisResolvers = {
  Query: {
    async languageIndependentNeurons(
      _: unknown,
      args: { model: string; relation: string; languages: string[]; minFacts?: number; method?: string; steps?: number; targetMode?: string },
      ctx: ApiContext,
    ) {
      const checkpoint = await requireModel(ctx, args.model);
      const relationId = checkRelationId(args.relation);
      if (!(await ctx.loaders.relation.load(relationId))) throw notFound("relation", relationId);
      const minFacts = args.minFacts ?? 1;
      if (!Number.isInteger(minFacts) || minFacts < 1) throw badInput("minFacts must be a positive integer", "minFacts");
      const rows = await relationLanguageIndependentNeurons(ctx.pool, {
        checkpointId: checkpoint.id,
        setting: settingFromApi(args),
        relationId,
        languages: checkLanguages(args.languages),
        minFacts,
      });
      return rows.map((r) => ({ layer: r.layer, index: r.unit, facts: r.facts }));
    },
    async degenerateSets(_: unknown, args: RunArgs, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      await requireFact(ctx, args.fact);
      const run = await findRun(ctx.pool, { checkpointId: checkpoint.id, setting: settingFromApi(args), factId: args.fact, language: checkLanguage(args.language) });
      if (!run) return [];
      return (await degenerateSetsOfRun(ctx.pool, run)).map((s) => ({
        baseProbability: s.baseProb,
        jointProbability: s.jointProb,
        neurons: s.members.map((m) => ({ layer: m.layer, index: m.unit, aloneProbability: m.aloneProb })),
      }));
    },
  },
  Fact: {
    async languageIndependentNeurons(fact: Fact, args: { model: string; languages: string[]; method?: string; steps?: number; targetMode?: string }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      const neurons = await factLanguageIndependentNeurons(ctx.pool, {
        checkpointId: checkpoint.id,
        setting: settingFromApi(args),
        factId: fact.id,
        languages: checkLanguages(args.languages),
      });
      return neurons.map(([layer, index]) => ({ layer, index }));
    },
  },
};
