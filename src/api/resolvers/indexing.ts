// Index jobs through the API: queue work for the workers, report progress.
import { createIndexJob } from "../../indexer/jobs.ts";
import { jobProgress } from "../../store/index-jobs.ts";
import type { ApiContext } from "../context.ts";
import { settingFromApi } from "../enums.ts";
import { badInput, notFound } from "../errors.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { requireModel } from "./neurons.ts";

async function progressOf(ctx: ApiContext, id: bigint) {
  const p = await jobProgress(ctx.pool, id);
  if (!p) return null;
  const job = await ctx.prisma.indexJob.findUniqueOrThrow({ where: { id }, include: { checkpoint: true, setting: true } });
  return { ...p, id: id.toString(), model: job.checkpoint.name, method: job.setting.method, steps: job.setting.steps };
}

export const indexingResolvers = {
  Query: {
    async indexJob(_: unknown, args: { id: string }, ctx: ApiContext) {
      if (!/^\d{1,18}$/.test(args.id)) throw badInput(`invalid job id ${JSON.stringify(args.id)}`, "id");
      const p = await progressOf(ctx, BigInt(args.id));
      if (!p) throw notFound("index job", args.id);
      return p;
    },
  },
  Mutation: {
    async indexFacts(
      _: unknown,
      args: { model: string; languages?: string[] | null; relations?: string[] | null; method?: string; steps?: number; targetMode?: string; force?: boolean },
      ctx: ApiContext,
    ) {
      ctx.requireWrite();
      const checkpoint = await requireModel(ctx, args.model);
      const setting = settingFromApi(args);
      const languages = (args.languages ?? []).map((l) => checkLanguage(l, "languages"));
      const relations = (args.relations ?? []).map((r) => checkRelationId(r, "relations"));
      const known = await ctx.prisma.language.findMany({ where: { code: { in: languages } } });
      const unknown = languages.filter((l) => !known.some((k) => k.code === l));
      if (unknown.length) throw notFound("language", unknown.join(","));
      const job = await createIndexJob(ctx.pool, await ctx.queue(), {
        checkpointId: checkpoint.id,
        setting,
        languages,
        relations,
        topK: 100,
        force: Boolean(args.force),
      });
      if (!job) throw badInput("no imported fact matches the selection", "relations");
      return progressOf(ctx, job.id);
    },
  },
};
