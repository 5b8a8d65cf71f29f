// Resolvers over stored attributions: models, a fact's runs, knowledge neurons, heatmap grid and
// per-layer summaries, and neuron pages (promoted tokens, facts by score, relations, DKN sets, edits).
import { describeTokenizer } from "../../model/tokenizer.ts";
import { degenerateSetsOfNeuron } from "../../store/degenerate.ts";
import { editsOfNeuron, effectsOfEdits } from "../../store/edits.ts";
import type { Checkpoint } from "../../store/generated/client.ts";
import { cachedGrid, saveGrid, storedGrid } from "../../store/grids.ts";
import { factsOfNeuron, relationsOfNeuron } from "../../store/neurons.ts";
import type { ApiContext } from "../context.ts";
import { methodFromApi, methodToApi, settingFromApi, targetModeFromApi, targetModeToApi } from "../enums.ts";
import { badInput, notFound } from "../errors.ts";
import type { Method, Resolvers, TargetMode } from "../generated/resolvers.ts";
import { present } from "../loaders.ts";
import type { HostCheckpoint } from "../model-host.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";
import type { RunParent } from "../parents.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";

/** Most tokens promotedTokens returns. */
export const MAX_PROMOTED_TOKENS = 100;

/** The checkpoint, or NOT_FOUND (for fields that cannot be null, and mutations). */
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

/** What the model host needs of a checkpoint row (plain data: it crosses to the host thread). */
export const hostCheckpoint = (c: Checkpoint): HostCheckpoint => ({ id: c.id, name: c.name, path: c.path });

/** Arguments naming one stored run: a fact in a language, and the run's setting. */
export interface RunArgs {
  model: string;
  fact: string;
  language: string;
  method?: Method | null;
  steps?: number | null;
  targetMode?: TargetMode | null;
}

/**
 * The run the arguments name; null when the model or fact is unknown or the fact has no such run.
 * One statement (the model comes from the catalog cache): the run with its knowledge neurons,
 * which are handed to the knowledgeNeurons loader for the fields that list them; the factRun
 * loader reads the runs of all facts of a list (same model, setting and language) in that one.
 */
async function runOf(ctx: ApiContext, args: RunArgs): Promise<RunParent | null> {
  const language = checkLanguage(args.language);
  const setting = settingFromApi(args);
  const checkpoint = await ctx.loaders.checkpoint.load(args.model);
  if (!checkpoint) return null;
  const found = await ctx.loaders.factRun.load({ checkpointId: checkpoint.id, setting, factId: args.fact, language });
  if (!found) return null;
  ctx.loaders.knowledgeNeurons.prime(found.run, found.knowledgeNeurons);
  return { run: found.run, model: checkpoint.name };
}

function checkCoordinate(checkpoint: Checkpoint, layer: number, unit: number): void {
  if (layer < 0 || layer >= checkpoint.nLayers) throw badInput(`layer must be in [0, ${checkpoint.nLayers}) for ${checkpoint.name}`, "layer");
  if (unit < 0 || unit >= checkpoint.ffnWidth) throw badInput(`unit must be in [0, ${checkpoint.ffnWidth}) for ${checkpoint.name}`, "unit");
}

/** Neuron-fact cursors: "<factKey>" (FACT order) or "<score>:<factKey>" (SCORE order). */
function neuronFactCursor(cursor: string | null | undefined, orderBy: "SCORE" | "FACT"): { afterFactKey: number | null; afterScore: number | null } {
  const key = decodeCursor(orderBy === "SCORE" ? "neuron-fact-score" : "neuron-fact", cursor);
  if (key === null) return { afterFactKey: null, afterScore: null };
  const m = orderBy === "SCORE" ? /^(-?[0-9.e+-]{1,32}):(\d{1,9})$/.exec(key) : /^()(\d{1,9})$/.exec(key);
  const score = m && orderBy === "SCORE" ? Number(m[1]) : null;
  if (!m || (orderBy === "SCORE" && !Number.isFinite(score))) throw badInput(`invalid cursor ${JSON.stringify(cursor)}`, "after");
  return { afterFactKey: Number(m[2]), afterScore: score };
}

const scored = (rows: { layer: number; unit: number; score: number }[]) => rows.map((n) => ({ layer: n.layer, unit: n.unit, score: n.score }));
const tokenizers = new Map<string, Promise<{ kind: string; files: string[] }>>();

const runFields = {
  fact: (r: RunParent, _: unknown, ctx: ApiContext) => present(ctx.loaders.fact.load(r.run.factId), `fact ${r.run.factId}`),
  language: (r: RunParent) => r.run.languageCode,
  method: (r: RunParent) => methodToApi(r.run.method) as Method,
  steps: (r: RunParent) => r.run.steps,
  targetMode: (r: RunParent) => targetModeToApi(r.run.targetMode) as TargetMode,
  prompt: (r: RunParent) => r.run.prompt,
  goldProbability: (r: RunParent) => r.run.goldProb,
  prediction: (r: RunParent) => r.run.predictedText,
  tau: (r: RunParent) => r.run.tau,
  tauRule: (r: RunParent) => r.run.tauRule.rule,
  model: (r: RunParent) => r.model,
};

export const neuronResolvers: Resolvers = {
  Query: {
    models: (_, __, ctx) => ctx.prisma.checkpoint.findMany({ orderBy: { name: "asc" } }),
    model: (_, args, ctx) => ctx.loaders.checkpoint.load(args.name),
    knowledgeNeurons: (_, args, ctx) => runOf(ctx, args),
    attribution: (_, args, ctx) => runOf(ctx, args),
    async attributionGrid(_, args, ctx) {
      const run = await runOf(ctx, args);
      if (!run) return null;
      // the grid the indexer stored with the run (or an earlier recomputation), then a run that kept every score
      const cached = await cachedGrid(ctx.pool, run.run);
      if (cached) return { run, layers: cached.layers, width: cached.width, scores: cached.scores, maxScore: run.run.maxScore, source: cached.fromIndex ? ("STORED" as const) : ("CACHED" as const) };
      const stored = await storedGrid(ctx.pool, run.run);
      if (stored) return { run, ...stored, maxScore: run.run.maxScore, source: "STORED" as const };
      const checkpoint = (await ctx.loaders.checkpoint.load(run.model))!;
      const computed = await ctx.modelHost.attributionGrid(hostCheckpoint(checkpoint), {
        factId: run.run.factId,
        language: run.run.languageCode,
        setting: { method: run.run.method, steps: run.run.steps, targetMode: run.run.targetMode },
      });
      // a grid computed while edits are active describes the edited model, not the run: not kept
      if (!computed.activeEdits.length) await saveGrid(ctx.pool, run.run, computed);
      let maxScore = Number.NEGATIVE_INFINITY;
      for (const x of computed.scores) if (x > maxScore) maxScore = x;
      return { run, layers: computed.layers, width: computed.width, scores: computed.scores, maxScore, source: "COMPUTED" as const };
    },
    async neuron(_, args, ctx) {
      const checkpoint = await ctx.loaders.checkpoint.load(args.model);
      if (!checkpoint) return null;
      checkCoordinate(checkpoint, args.layer, args.unit);
      return { checkpoint, layer: args.layer, unit: args.unit };
    },
  },
  Model: {
    layers: (c) => c.nLayers,
    width: (c) => c.ffnWidth,
    registeredAt: (c) => c.createdAt,
    async tokenizer(c) {
      const key = `${c.path}|${c.contentHash}`;
      if (!tokenizers.has(key)) tokenizers.set(key, describeTokenizer(c.path));
      return { ...(await tokenizers.get(key)!), vocabSize: c.vocabSize };
    },
  },
  KnowledgeNeuronSet: {
    ...runFields,
    neurons: async (r, _, ctx) => scored(await ctx.loaders.knowledgeNeurons.load(r.run)),
  },
  Attribution: {
    ...runFields,
    id: (r) => r.run.id.toString(),
    predictionProbability: (r) => r.run.predictedProb,
    maxScore: (r) => r.run.maxScore,
    layers: (r) => r.run.nLayers,
    width: (r) => r.run.ffnWidth,
    createdAt: (r) => r.run.createdAt,
    topNeurons: async (r, _, ctx) => scored(await ctx.loaders.topScores.load(r.run)),
    knowledgeNeurons: async (r, _, ctx) => scored(await ctx.loaders.knowledgeNeurons.load(r.run)),
    async layerSummaries(r, _, ctx) {
      const summaries = r.run.layerSummaries ?? [];
      const perLayer = new Array<number>(r.run.nLayers).fill(0);
      for (const n of await ctx.loaders.knowledgeNeurons.load(r.run)) perLayer[n.layer]++;
      return summaries.map((s, layer) => ({ layer, ...s, knowledgeNeurons: perLayer[layer] }));
    },
    degenerateSets: async (r, _, ctx) =>
      (await ctx.loaders.degenerateSets.load(r.run)).map((s) => ({
        baseProbability: s.baseProb,
        jointProbability: s.jointProb,
        neurons: s.members.map((m) => ({ layer: m.layer, unit: m.unit, aloneProbability: m.aloneProb })),
      })),
  },
  AttributionGrid: {
    scores: (g) => Array.from(g.scores),
  },
  Neuron: {
    model: (n) => n.checkpoint.name,
    async promotedTokens(n, args, ctx) {
      const top = args.top ?? 20;
      if (!Number.isInteger(top) || top < 1 || top > MAX_PROMOTED_TOKENS) throw badInput(`top must be an integer between 1 and ${MAX_PROMOTED_TOKENS}`, "top");
      return ctx.modelHost.promotedTokens(hostCheckpoint(n.checkpoint), [n.layer, n.unit], top);
    },
    async facts(n, args, ctx) {
      const orderBy = args.orderBy ?? "SCORE";
      const page = await factsOfNeuron(ctx.pool, {
        checkpointId: n.checkpoint.id,
        setting: settingFromApi(args),
        layer: n.layer,
        unit: n.unit,
        language: args.language == null ? null : checkLanguage(args.language),
        relationId: args.relation == null ? null : checkRelationId(args.relation),
        orderBy,
        ...neuronFactCursor(args.after, orderBy),
        first: pageSize(args.first),
      });
      // the facts' rows come with the page; the loader gets them for other fields of the request that name them
      for (const r of page.rows) ctx.loaders.fact.prime(r.factId, r.fact);
      const edges = page.rows.map((r) => ({
        cursor: orderBy === "SCORE" ? encodeCursor("neuron-fact-score", `${r.maxScore}:${r.factKey}`) : encodeCursor("neuron-fact", String(r.factKey)),
        node: r.fact,
        languages: r.languages,
        score: r.maxScore,
      }));
      return { totalCount: page.totalCount, edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    relations: (n, args, ctx) => relationsOfNeuron(ctx.pool, { checkpointId: n.checkpoint.id, setting: settingFromApi(args), layer: n.layer, unit: n.unit }),
    async degenerateSets(n, args, ctx) {
      const rows = await degenerateSetsOfNeuron(ctx.pool, { checkpointId: n.checkpoint.id, setting: settingFromApi(args), layer: n.layer, unit: n.unit, first: pageSize(args.first) });
      return rows.map((r) => ({
        factId: r.factId,
        language: r.language,
        set: { baseProbability: r.baseProb, jointProbability: r.jointProb, neurons: r.members.map((m) => ({ layer: m.layer, unit: m.unit, aloneProbability: m.aloneProb })) },
      }));
    },
    async edits(n, args, ctx) {
      const rows = await editsOfNeuron(ctx.pool, { checkpointId: n.checkpoint.id, layer: n.layer, unit: n.unit, first: pageSize(args.first) });
      const effects = await effectsOfEdits(ctx.pool, rows.map((r) => r.id));
      return rows.map((r) => ({ ...r, effects: effects.get(r.id) ?? [] }));
    },
  },
  NeuronDegenerateSet: {
    fact: (d, _, ctx) => present(ctx.loaders.fact.load(d.factId), `fact ${d.factId}`),
  },
  RelationCount: {
    relation: (r, _, ctx) => present(ctx.loaders.relation.load(r.relationId), `relation ${r.relationId}`),
  },
  Fact: {
    async knowledgeNeurons(fact, args, ctx) {
      return runOf(ctx, { ...args, fact: fact.id });
    },
    async runs(fact, args, ctx) {
      const checkpoint = args.model == null ? null : await requireModel(ctx, args.model);
      if (args.steps != null) settingFromApi({ steps: args.steps });
      const rows = await ctx.loaders.runsOfFact.load({
        factId: fact.id,
        filter: {
          checkpointId: checkpoint?.id ?? null,
          languages: args.languages?.map((l) => checkLanguage(l, "languages")) ?? null,
          method: args.method == null ? null : methodFromApi(args.method),
          steps: args.steps ?? null,
          targetMode: args.targetMode == null ? null : targetModeFromApi(args.targetMode),
        },
      });
      return Promise.all(rows.map(async (run) => ({ run, model: await present(ctx.loaders.checkpointName.load(run.checkpointId), `checkpoint ${run.checkpointId}`) })));
    },
  },
};
