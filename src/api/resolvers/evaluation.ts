// Stored evaluations: localization quality and fact-checking.
import { factCheckMetrics } from "../../attribution/fact-check.ts";
import { listFactCheckEvaluations } from "../../store/evaluations.ts";
import { summarizeLocalization } from "../../store/localization.ts";
import { methodFromApi, methodToApi } from "../enums.ts";
import type { Method, Resolvers } from "../generated/resolvers.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { requireModel } from "./neurons.ts";

interface StoredMetrics {
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  truePositives: number;
  trueNegatives: number;
  positives: number;
  negatives: number;
}

/** Adds the reference code's names: its "precision" is TP / N+, its "recall" TP / (TP + FP). */
export const withCodeNames = (m: StoredMetrics) => ({ ...m, codePrecision: m.recall, codeRecall: m.precision });

/** The checker that accepts every candidate, scored on the same candidates as `m`. */
export function acceptAllOf(m: StoredMetrics) {
  const counts = { truePositives: m.positives, trueNegatives: 0, positives: m.positives, negatives: m.negatives };
  return withCodeNames({ ...counts, ...factCheckMetrics(counts) });
}

export function evaluationToApi(model: string, e: { languageCode: string; results: unknown; threshold: number; rho: number; createdAt: Date }) {
  const r = e.results as {
    withDkn: StoredMetrics;
    baseline: StoredMetrics;
    relations: { relation: string; neurons: number; withDkn: StoredMetrics; baseline: StoredMetrics }[];
    statistics?: { auroc?: { auroc: number } | null };
  };
  return {
    model,
    language: e.languageCode,
    withDkn: withCodeNames(r.withDkn),
    baseline: withCodeNames(r.baseline),
    acceptAll: acceptAllOf(r.withDkn),
    auroc: r.statistics?.auroc?.auroc ?? null,
    relations: r.relations.map((x) => ({
      relation: x.relation,
      neurons: x.neurons,
      withDkn: withCodeNames(x.withDkn),
      baseline: withCodeNames(x.baseline),
      acceptAll: acceptAllOf(x.withDkn),
    })),
    threshold: e.threshold,
    rho: e.rho,
    createdAt: e.createdAt,
  };
}

export const evaluationResolvers: Resolvers = {
  Query: {
    async localization(_, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      const rows = await summarizeLocalization(ctx.pool, {
        checkpointId: checkpoint.id,
        method: args.method ? methodFromApi(args.method) : null,
        language: args.language == null ? null : checkLanguage(args.language),
        relation: args.relation == null ? null : checkRelationId(args.relation),
        byRelation: args.relation != null,
      });
      return rows.map((r) => ({ ...r, model: checkpoint.name, method: methodToApi(r.method) as Method }));
    },
    async factCheckingEvaluation(_, args, ctx) {
      const language = checkLanguage(args.language);
      const checkpoint = await ctx.loaders.checkpoint.load(args.model);
      if (!checkpoint) return null;
      const [latest] = await listFactCheckEvaluations(ctx.prisma, { checkpointId: checkpoint.id, language, first: 1 });
      return latest ? evaluationToApi(checkpoint.name, latest) : null;
    },
    async factCheckingEvaluations(_, args, ctx) {
      const language = args.language == null ? null : checkLanguage(args.language);
      const checkpoint = await ctx.loaders.checkpoint.load(args.model);
      if (!checkpoint) return null;
      return (await listFactCheckEvaluations(ctx.prisma, { checkpointId: checkpoint.id, language })).map((e) => evaluationToApi(checkpoint.name, e));
    },
  },
};
