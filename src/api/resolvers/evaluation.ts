// Stored evaluations: localization quality and fact-checking.
import { summarizeLocalization } from "../../store/localization.ts";
import type { ApiContext } from "../context.ts";
import { methodFromApi, methodToApi } from "../enums.ts";
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

export function evaluationToApi(model: string, e: { languageCode: string; results: unknown; createdAt: Date }) {
  const r = e.results as { withDkn: StoredMetrics; baseline: StoredMetrics; relations: { relation: string; neurons: number; withDkn: StoredMetrics; baseline: StoredMetrics }[] };
  return {
    model,
    language: e.languageCode,
    withDkn: withCodeNames(r.withDkn),
    baseline: withCodeNames(r.baseline),
    relations: r.relations.map((x) => ({ relation: x.relation, neurons: x.neurons, withDkn: withCodeNames(x.withDkn), baseline: withCodeNames(x.baseline) })),
    createdAt: e.createdAt.toISOString(),
  };
}

export const evaluationResolvers = {
  Query: {
    async localization(_: unknown, args: { model: string; method?: string | null; language?: string | null; relation?: string | null }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      const rows = await summarizeLocalization(ctx.pool, {
        checkpointId: checkpoint.id,
        method: args.method ? methodFromApi(args.method) : null,
        language: args.language == null ? null : checkLanguage(args.language),
        relation: args.relation == null ? null : checkRelationId(args.relation),
        byRelation: args.relation != null,
      });
      return rows.map((r) => ({ ...r, model: checkpoint.name, method: methodToApi(r.method) }));
    },
    async factCheckingEvaluation(_: unknown, args: { model: string; language: string }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      const latest = await ctx.prisma.factCheckEvaluation.findFirst({
        where: { checkpointId: checkpoint.id, languageCode: checkLanguage(args.language) },
        orderBy: { createdAt: "desc" },
      });
      return latest ? evaluationToApi(checkpoint.name, latest) : null;
    },
  },
};
