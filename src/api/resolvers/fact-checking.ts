// Fact-checking through the API, on the live model in the model host (weight edits included;
// activation edits are a per-pass scale of predictions and do not take part in attribution).
import { DEFAULT_DKN_FILTER, DEFAULT_FACT_CHECK_THRESHOLD } from "../../attribution/fact-check.ts";
import { saveFactCheck, saveFactCheckEvaluation } from "../../store/evaluations.ts";
import type { ApiContext } from "../context.ts";
import { badInput, notFound } from "../errors.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { evaluationToApi } from "./evaluation.ts";
import { hostCheckpoint } from "./editing.ts";
import { requireModel } from "./neurons.ts";

export const factCheckingResolvers = {
  Query: {
    async checkFact(_: unknown, args: { model: string; subject: string; relation: string; object: string; language: string }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      const relationId = checkRelationId(args.relation);
      const language = checkLanguage(args.language);
      if (!args.subject.trim()) throw badInput("subject is empty", "subject");
      if (!args.object.trim()) throw badInput("object is empty", "object");
      const template = await ctx.prisma.template.findFirst({ where: { relationId, languageCode: language }, orderBy: { id: "asc" } });
      if (!template) throw notFound("template", `${relationId}/${language}`);
      const verdict = await ctx.modelHost.checkFact(hostCheckpoint(checkpoint), {
        relationId,
        language,
        template: template.text,
        subject: args.subject.trim(),
        object: args.object.trim(),
      });
      if (!verdict.neurons.length) {
        throw badInput(`no degenerate neurons are stored for ${relationId} in ${language} on ${checkpoint.name}: index the relation first (kn index)`, "relation");
      }
      const neurons = verdict.neurons.map(([l, u]) => [l, u] as [number, number]);
      await saveFactCheck(ctx.prisma, { checkpointId: checkpoint.id, relationId, language, subject: args.subject.trim(), object: args.object.trim(), verdict: verdict.verdict, score: verdict.score, threshold: verdict.threshold, neurons });
      return {
        verdict: verdict.verdict,
        score: verdict.score,
        threshold: verdict.threshold,
        neurons: neurons.map(([layer, index]) => ({ layer, index })),
        relation: relationId,
        language,
        subject: args.subject.trim(),
        object: args.object.trim(),
      };
    },
  },
  Mutation: {
    async evaluateFactChecking(_: unknown, args: { model: string; language: string }, ctx: ApiContext) {
      ctx.requireWrite();
      const checkpoint = await requireModel(ctx, args.model);
      const language = checkLanguage(args.language);
      const settings = { checkpointId: checkpoint.id, language, method: "amig-compat" as const, threshold: DEFAULT_FACT_CHECK_THRESHOLD, rho: DEFAULT_DKN_FILTER, seed: 42 };
      const result = await ctx.modelHost.evaluateFactChecking(hostCheckpoint(checkpoint), settings);
      if (!result.relations.length) throw badInput(`no relation has degenerate neurons in ${language} on ${checkpoint.name}: index it first (kn index)`, "language");
      return evaluationToApi(checkpoint.name, await saveFactCheckEvaluation(ctx.prisma, settings, result));
    },
  },
};
