// Fact-checking through the API, on the live model in the model host (weight edits included;
// activation edits are a per-pass scale of predictions and do not take part in attribution).
// checkFact only reads; recordFactCheck checks and stores.
import { DEFAULT_DKN_FILTER, DEFAULT_FACT_CHECK_THRESHOLD } from "../../attribution/fact-check.ts";
import { listFactChecks, saveFactCheck, saveFactCheckEvaluation } from "../../store/evaluations.ts";
import type { ApiContext } from "../context.ts";
import { badInput, notFound } from "../errors.ts";
import type { QueryCheckFactArgs, Resolvers } from "../generated/resolvers.ts";
import { pageSize } from "../pagination.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { evaluationToApi } from "./evaluation.ts";
import { hostCheckpoint, requireModel } from "./neurons.ts";

async function checkStatement(ctx: ApiContext, args: QueryCheckFactArgs) {
  const checkpoint = await requireModel(ctx, args.model);
  const relationId = checkRelationId(args.relation);
  const language = checkLanguage(args.language);
  const subject = args.subject.trim();
  const object = args.object.trim();
  if (!subject) throw badInput("subject is empty", "subject");
  if (!object) throw badInput("object is empty", "object");
  const template = await ctx.prisma.template.findFirst({ where: { relationId, languageCode: language }, orderBy: { id: "asc" } });
  if (!template) throw notFound("template", `${relationId}/${language}`);
  const verdict = await ctx.modelHost.checkFact(hostCheckpoint(checkpoint), { relationId, language, template: template.text, subject, object });
  if (!verdict.neurons.length) {
    throw badInput(`no degenerate neurons are stored for ${relationId} in ${language} on ${checkpoint.name}: index the relation first (kn index)`, "relation");
  }
  const neurons = verdict.neurons.map(([l, u]) => [l, u] as [number, number]);
  return { checkpoint, relationId, language, subject, object, verdict: verdict.verdict, score: verdict.score, threshold: verdict.threshold, neurons };
}

type Check = Awaited<ReturnType<typeof checkStatement>>;

const checkToApi = (c: Check, stored?: { id: bigint; createdAt: Date }) => ({
  id: stored?.id.toString() ?? null,
  createdAt: stored?.createdAt ?? null,
  model: c.checkpoint.name,
  verdict: c.verdict,
  score: c.score,
  threshold: c.threshold,
  neurons: c.neurons.map(([layer, unit]) => ({ layer, unit })),
  relation: c.relationId,
  language: c.language,
  subject: c.subject,
  object: c.object,
});

export const factCheckingResolvers: Resolvers = {
  Query: {
    checkFact: async (_, args, ctx) => checkToApi(await checkStatement(ctx, args)),
    async factChecks(_, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      const rows = await listFactChecks(ctx.prisma, {
        checkpointId: checkpoint.id,
        relationId: args.relation == null ? null : checkRelationId(args.relation),
        language: args.language == null ? null : checkLanguage(args.language),
        first: pageSize(args.first),
      });
      return rows.map((r) => ({
        id: r.id.toString(),
        createdAt: r.createdAt,
        model: checkpoint.name,
        verdict: r.verdict,
        score: r.score,
        threshold: r.threshold,
        neurons: (r.neurons as [number, number][]).map(([layer, unit]) => ({ layer, unit })),
        relation: r.relationId,
        language: r.languageCode,
        subject: r.subject,
        object: r.object,
      }));
    },
  },
  Mutation: {
    async recordFactCheck(_, args, ctx) {
      ctx.requireWrite();
      const c = await checkStatement(ctx, args);
      const stored = await saveFactCheck(ctx.prisma, {
        checkpointId: c.checkpoint.id, relationId: c.relationId, language: c.language, subject: c.subject, object: c.object,
        verdict: c.verdict, score: c.score, threshold: c.threshold, neurons: c.neurons,
      });
      return checkToApi(c, stored);
    },
    async evaluateFactChecking(_, args, ctx) {
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
