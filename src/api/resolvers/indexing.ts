// Index jobs through the API: queue work for the workers, report progress and coverage.
import { createIndexJob } from "../../indexer/jobs.ts";
import { jobSummaries } from "../../store/index-jobs.ts";
import { degenerateSetCounts, indexingCoverage } from "../../store/relation-stats.ts";
import type { ApiContext } from "../context.ts";
import { methodToApi, settingFromApi, targetModeToApi } from "../enums.ts";
import { badInput, notFound } from "../errors.ts";
import type { Method, Resolvers, TargetMode } from "../generated/resolvers.ts";
import { pageSize } from "../pagination.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { requireModel } from "./neurons.ts";

function parseJobId(id: string): bigint {
  if (!/^\d{1,18}$/.test(id)) throw badInput(`invalid job id ${JSON.stringify(id)}`, "id");
  return BigInt(id);
}

const jobById = async (ctx: ApiContext, id: bigint) => (await jobSummaries(ctx.pool, { ids: [id], first: 1 }))[0] ?? null;

export const indexingResolvers: Resolvers = {
  Query: {
    indexJob: (_, args, ctx) => jobById(ctx, parseJobId(args.id)),
    async indexJobs(_, args, ctx) {
      const checkpoint = args.model == null ? null : await requireModel(ctx, args.model);
      return jobSummaries(ctx.pool, { checkpointId: checkpoint?.id ?? null, statuses: args.status ?? null, first: pageSize(args.first) });
    },
    async indexingCoverage(_, args, ctx) {
      const setting = settingFromApi(args);
      const checkpoints = args.model == null ? await ctx.prisma.checkpoint.findMany({ orderBy: { name: "asc" } }) : [await ctx.loaders.checkpoint.load(args.model)];
      if (checkpoints.some((c) => c === null)) return null;
      const names = new Map(checkpoints.map((c) => [c!.id, c!.name]));
      const scope = { checkpointIds: [...names.keys()], setting };
      const rows = await indexingCoverage(ctx.pool, scope);
      // every row's degenerateSets from one statement, run only if a row's field is selected
      let counts: Promise<Map<string, number>> | null = null;
      const degenerate = (key: string) => async () => ((await (counts ??= degenerateSetCounts(ctx.pool, scope))).get(key) ?? 0);
      return rows
        .map((r) => ({
          model: names.get(r.checkpointId)!,
          relation: r.relationId,
          language: r.language,
          facts: r.facts,
          indexed: r.indexed,
          share: r.facts ? r.indexed / r.facts : 0,
          knowledgeNeurons: r.knowledgeNeurons,
          degenerateSets: degenerate(`${r.checkpointId}|${r.relationId}|${r.language}`),
        }))
        .sort((a, b) => a.model.localeCompare(b.model) || a.relation.localeCompare(b.relation) || a.language.localeCompare(b.language));
    },
  },
  Mutation: {
    async indexFacts(_, args, ctx) {
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
      return (await jobById(ctx, job.id))!;
    },
  },
  IndexingCoverage: {
    degenerateSets: (c) => c.degenerateSets(),
  },
  IndexJob: {
    id: (j) => j.id.toString(),
    method: (j) => methodToApi(j.method) as Method,
    targetMode: (j) => targetModeToApi(j.targetMode) as TargetMode,
  },
};
