// Resolvers over stored attributions: models, a fact's knowledge neurons and heatmap, and the
// facts that share a neuron.
import type { Checkpoint } from "../../store/generated/client.ts";
import { type RunRow, factsOfNeuron, findRun } from "../../store/neurons.ts";
import type { ApiContext } from "../context.ts";
import { methodToApi, settingFromApi, targetModeToApi } from "../enums.ts";
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

/** Arguments naming one stored run: a fact in a language, and the run's setting. */
export interface RunArgs {
  model: string;
  fact: string;
  language: string;
  method?: string | null;
  steps?: number | null;
  targetMode?: string | null;
}

async function runOf(ctx: ApiContext, args: RunArgs): Promise<RunResult | null> {
  const checkpoint = await requireModel(ctx, args.model);
  await requireFact(ctx, args.fact);
  const run = await findRun(ctx.pool, { checkpointId: checkpoint.id, setting: settingFromApi(args), factId: args.fact, language: checkLanguage(args.language) });
  return run ? { run, model: checkpoint.name } : null;
}

/** Neuron-fact cursors carry the fact's integer key (the page order). */
function factKeyCursor(cursor: string | null | undefined): number | null {
  const key = decodeCursor("neuron-fact", cursor);
  if (key === null) return null;
  if (!/^\d{1,9}$/.test(key)) throw badInput(`invalid cursor ${JSON.stringify(cursor)}`, "after");
  return Number(key);
}

const scored = (rows: { layer: number; unit: number; score: number }[]) => rows.map((n) => ({ layer: n.layer, index: n.unit, score: n.score }));

const runFields = {
  model: (r: RunResult) => r.model,
  fact: (r: RunResult, _: unknown, ctx: ApiContext) => ctx.loaders.fact.load(r.run.factId),
  language: (r: RunResult) => r.run.languageCode,
  method: (r: RunResult) => methodToApi(r.run.method),
  steps: (r: RunResult) => r.run.steps,
  targetMode: (r: RunResult) => targetModeToApi(r.run.targetMode),
  prompt: (r: RunResult) => r.run.prompt,
  goldProbability: (r: RunResult) => r.run.goldProb,
  prediction: (r: RunResult) => r.run.predictedText,
};

export const neuronResolvers = {
  Query: {
    models: (_: unknown, __: unknown, ctx: ApiContext) => ctx.prisma.checkpoint.findMany({ orderBy: { name: "asc" } }),
    knowledgeNeurons: (_: unknown, args: RunArgs, ctx: ApiContext) => runOf(ctx, args),
    attribution: (_: unknown, args: RunArgs, ctx: ApiContext) => runOf(ctx, args),
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
    neurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.knowledgeNeurons.load(r.run)),
  },
  Attribution: {
    ...runFields,
    maxScore: (r: RunResult) => r.run.maxScore,
    layers: (r: RunResult) => r.run.nLayers,
    width: (r: RunResult) => r.run.ffnWidth,
    topNeurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.topScores.load(r.run)),
    knowledgeNeurons: async (r: RunResult, _: unknown, ctx: ApiContext) => scored(await ctx.loaders.knowledgeNeurons.load(r.run)),
  },
  Neuron: {
    model: (n: { checkpoint: Checkpoint }) => n.checkpoint.name,
    async facts(
      n: { checkpoint: Checkpoint; layer: number; index: number },
      args: { first?: number | null; after?: string | null; language?: string | null; method?: string | null; steps?: number | null; targetMode?: string | null },
      ctx: ApiContext,
    ) {
      const page = await factsOfNeuron(ctx.pool, {
        checkpointId: n.checkpoint.id,
        setting: settingFromApi(args),
        layer: n.layer,
        unit: n.index,
        language: args.language == null ? null : checkLanguage(args.language),
        afterFactKey: factKeyCursor(args.after),
        first: pageSize(args.first),
      });
      const edges = page.rows.map((r) => ({
        cursor: encodeCursor("neuron-fact", String(r.factKey)),
        node: ctx.loaders.fact.load(r.factId),
        languages: r.languages,
        score: r.maxScore,
      }));
      return { totalCount: page.totalCount, edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  },
};
