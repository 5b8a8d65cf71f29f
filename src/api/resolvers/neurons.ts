// Resolvers over stored attributions: models, a fact's knowledge neurons and heatmap, and the
// facts that share a neuron.
import type { Checkpoint } from "../../store/generated/client.ts";
import { type RunRow, factsOfNeuron, latestRun } from "../../store/neurons.ts";
import type { ApiContext } from "../context.ts";
import { methodFromApi, methodToApi } from "../enums.ts";
import { badInput, notFound } from "../errors.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";
import { checkLanguage } from "./catalog.ts";

export async function requireModel(ctx: ApiContext, name: string): Promise<Checkpoint> {
  const checkpoint = await ctx.loaders.checkpoint.load(name);
  if (!checkpoint) throw notFound("model", name);
  return checkpoint;
}

export async function requireFact(ctx: ApiContext, id: string) {
  const fact = await ctx.loaders.fact.load(id);
  if (!fact) throw notFound("fact", id);
  return fact;
}

interface RunResult {
  run: RunRow;
  model: string;
}

async function findRun(ctx: ApiContext, args: { model: string; fact: string; language: string; method?: string | null }): Promise<RunResult | null> {
  const checkpoint = await requireModel(ctx, args.model);
  await requireFact(ctx, args.fact);
  const run = await latestRun(ctx.pool, checkpoint.id, args.fact, checkLanguage(args.language), methodFromApi(args.method));
  return run ? { run, model: checkpoint.name } : null;
}

const scored = (rows: { layer: number; unit: number; score: number }[]) => rows.map((n) => ({ layer: n.layer, index: n.unit, score: n.score }));

const runFields = {
  model: (r: RunResult) => r.model,
  fact: (r: RunResult, _: unknown, ctx: ApiContext) => ctx.loaders.fact.load(r.run.factId),
  language: (r: RunResult) => r.run.languageCode,
  method: (r: RunResult) => methodToApi(r.run.method),
  steps: (r: RunResult) => r.run.steps,
  prompt: (r: RunResult) => r.run.prompt,
  goldProbability: (r: RunResult) => r.run.goldProb,
  prediction: (r: RunResult) => r.run.predictedText,
};

export const neuronResolvers = {
  Query: {
    models: (_: unknown, __: unknown, ctx: ApiContext) => ctx.prisma.checkpoint.findMany({ orderBy: { name: "asc" } }),
    knowledgeNeurons: (_: unknown, args: { model: string; fact: string; language: string; method?: string }, ctx: ApiContext) => findRun(ctx, args),
    attribution: (_: unknown, args: { model: string; fact: string; language: string; method?: string }, ctx: ApiContext) => findRun(ctx, args),
    async neuron(_: unknown, args: { model: string; layer: number; index: number }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      if (args.layer < 0 || args.layer >= checkpoint.nLayers) throw badInput(`layer must be in [0, ${checkpoint.nLayers}) for ${checkpoint.name}`, "layer");
      if (args.index < 0 || args.index >= checkpoint.ffnWidth) throw badInput(`index must be in [0, ${checkpoint.ffnWidth}) for ${checkpoint.name}`, "index");
      return { checkpoint, layer: args.layer, index: args.index };
    },
  },
  Model: {
    architecture: (c: Checkpoint) => c.architecture,
    layers: (c: Checkpoint) => c.nLayers,
  },
  KnowledgeNeuronSet: {
    ...runFields,
    tau: (r: RunResult) => r.run.tau,
    tauRule: (r: RunResult) => r.run.tauRule.rule,
    neurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.knowledgeNeurons.load(r.run.id)),
  },
  Attribution: {
    ...runFields,
    maxScore: (r: RunResult) => r.run.maxScore,
    layers: (r: RunResult) => r.run.nLayers,
    width: (r: RunResult) => r.run.ffnWidth,
    topNeurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.topScores.load(r.run.id)),
    knowledgeNeurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.knowledgeNeurons.load(r.run.id)),
  },
  Neuron: {
    model: (n: { checkpoint: Checkpoint }) => n.checkpoint.name,
    async facts(
      n: { checkpoint: Checkpoint; layer: number; index: number },
      args: { first?: number | null; after?: string | null; language?: string | null; method?: string | null },
      ctx: ApiContext,
    ) {
      const page = await factsOfNeuron(ctx.pool, {
        checkpointId: n.checkpoint.id,
        layer: n.layer,
        unit: n.index,
        method: args.method ? methodFromApi(args.method) : null,
        language: args.language == null ? null : checkLanguage(args.language),
        after: decodeCursor("neuron-fact", args.after),
        first: pageSize(args.first),
      });
      const edges = page.rows.map((r) => ({
        cursor: encodeCursor("neuron-fact", r.factId),
        node: ctx.loaders.fact.load(r.factId),
        languages: r.languages,
        score: r.maxScore,
      }));
      return { totalCount: page.totalCount, edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  },
};
