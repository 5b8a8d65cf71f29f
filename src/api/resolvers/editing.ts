// Live-model editing through the API: predict, applyEdit / revertEdit and the edit history.
//
// applyEdit checks everything it can from the request and the database first (nothing changes
// on a refusal), then under the model's mutex: conflicts with active edits, measure before, apply,
// measure after, store edit + effects in one transaction; if storing fails the model change is
// undone. revertEdit undoes the model change, then marks the edit REVERTED; if that write fails
// the edit is put back. Either way a failing mutation leaves rows and weights as they were.
import { createHash } from "node:crypto";
import { GraphQLError } from "graphql";
import {
  type EditKind, type FactMeasurement, type FactProbe, ACTIVATION_FACTOR, factProbe, isActivationKind, newObjectTokenId,
  packVectors, relativeChange, summarizeEffects, uniqueNeurons, UPDATE_LAMBDA, weightEditVectors,
} from "../../attribution/editing.ts";
import { type Neuron, ModelError } from "../../model/index.ts";
import {
  type EditParams, type EditRow, type EditStatusName, type EditTargetName, type EffectRow, type FactPromptRow,
  activeEdits, editPage, effectsOfEdits, factPrompts, findEdit, markReverted, reserveEditId, saveEdit, storedNeuronCounts, unrelatedFacts,
} from "../../store/edits.ts";
import type { Checkpoint } from "../../store/generated/client.ts";
import { factLanguageIndependentNeurons } from "../../store/likn.ts";
import { knowledgeNeuronsOfRuns, latestRun } from "../../store/neurons.ts";
import { languageExists } from "../../store/catalog.ts";
import type { ApiContext } from "../context.ts";
import { methodFromApi } from "../enums.ts";
import { apiError, badInput, notFound } from "../errors.ts";
import { type LiveModel, liveModelsOf } from "../live-models.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";
import { checkLanguage } from "./catalog.ts";
import { requireFact, requireModel } from "./neurons.ts";

/** Unrelated facts measured per edit at most (each costs a forward pass per object piece, twice). */
export const MAX_UNRELATED_SAMPLE = 50;
const MAX_UPDATE_STRENGTH = 100;
export const MAX_PREDICT_TOP = 100;

interface NeuronArg {
  layer: number;
  index: number;
}

interface EditInputArgs {
  model: string;
  kind: "SUPPRESS" | "ENHANCE" | "ERASE" | "UPDATE";
  target: EditTargetName;
  fact?: string | null;
  language?: string | null;
  languages?: string[] | null;
  neurons?: NeuronArg[] | null;
  newObject?: string | null;
  strength?: number | null;
  method?: string | null;
  unrelatedSample?: number | null;
}

/** An edit request checked against the database: everything but what needs the live model. */
interface ResolvedEdit {
  checkpoint: Checkpoint;
  kind: EditKind;
  target: EditTargetName;
  factId: string | null;
  /** Where reliability is measured and the unrelated sample is drawn; null: no fact, no language. */
  sourceLanguage: string | null;
  neurons: Neuron[];
  newObject: string | null;
  unrelatedSample: number;
  params: EditParams;
}

export interface EditView extends EditRow {
  effects: EffectRow[];
}

const conflict = (message: string) => apiError("CONFLICT", message);
const neuronText = (n: Neuron) => `(${n[0]}, ${n[1]})`;
const list = (xs: readonly string[]) => xs.map((x) => JSON.stringify(x)).join(", ");

/** Model problems: bad input is the caller's; anything else (files gone, backend) is the server's. */
function modelError(err: unknown, argument?: string): unknown {
  if (!(err instanceof ModelError)) return err;
  if (err.code === "bad-input") return badInput(err.message, argument);
  return new GraphQLError(`the model cannot be used: ${err.message}`, { extensions: { code: "INTERNAL_SERVER_ERROR", reason: err.code } });
}

function parseEditId(id: string, argument = "id"): bigint {
  if (!/^\d{1,18}$/.test(id)) throw badInput(`invalid edit id ${JSON.stringify(id)}`, argument);
  return BigInt(id);
}

function checkNeuron(checkpoint: Checkpoint, n: NeuronArg): Neuron {
  const ok = Number.isInteger(n.layer) && n.layer >= 0 && n.layer < checkpoint.nLayers && Number.isInteger(n.index) && n.index >= 0 && n.index < checkpoint.ffnWidth;
  if (!ok) {
    throw badInput(
      `neuron (${n.layer}, ${n.index}) is out of range for ${checkpoint.name}: layer must be in [0, ${checkpoint.nLayers}) and index in [0, ${checkpoint.ffnWidth})`,
      "neurons",
    );
  }
  return [n.layer, n.index];
}

/** The default source language among a fact's languages: English if it has it, else the first. */
const defaultLanguage = (languages: readonly string[]) => (languages.includes("en") ? "en" : [...languages].sort()[0]);

async function resolveKnNeurons(ctx: ApiContext, checkpoint: Checkpoint, factId: string, language: string, method: string): Promise<Neuron[]> {
  const run = await latestRun(ctx.pool, checkpoint.id, factId, language, method);
  if (!run) {
    throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no stored ${method} attribution in ${JSON.stringify(language)} for ${checkpoint.name} (index it with indexFacts first)`, "fact");
  }
  const neurons = (await knowledgeNeuronsOfRuns(ctx.pool, [run.id])).get(run.id) ?? [];
  if (!neurons.length) throw badInput(`no neurons: the latest ${method} run of fact ${JSON.stringify(factId)} in ${JSON.stringify(language)} selected no knowledge neuron`, "fact");
  return neurons.map((n) => [n.layer, n.unit]);
}

async function resolveLiknNeurons(ctx: ApiContext, checkpoint: Checkpoint, factId: string, languages: readonly string[], method: string): Promise<Neuron[]> {
  const stored = await storedNeuronCounts(ctx.pool, checkpoint.id, factId, method);
  const unindexed = languages.filter((l) => !stored.has(l));
  if (unindexed.length) {
    throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no stored ${method} attribution in ${list(unindexed)} for ${checkpoint.name} (index it with indexFacts first)`, "languages");
  }
  const empty = languages.filter((l) => stored.get(l)!.neurons === 0);
  if (empty.length) throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no knowledge neuron in ${list(empty)}`, "languages");
  const neurons = await factLanguageIndependentNeurons(ctx.pool, { checkpointId: checkpoint.id, factId, method, languages });
  if (!neurons.length) throw badInput(`no neurons: the knowledge neurons of fact ${JSON.stringify(factId)} in ${list(languages)} have none in common`, "languages");
  return neurons;
}

/** Every check that needs only the request and the database; throws before anything changes. */
async function resolveEdit(ctx: ApiContext, input: EditInputArgs): Promise<ResolvedEdit> {
  const checkpoint = await requireModel(ctx, input.model);
  const kind = input.kind.toLowerCase() as EditKind;
  const target = input.target;
  const unrelatedSample = input.unrelatedSample ?? 5;
  if (!Number.isInteger(unrelatedSample) || unrelatedSample < 0 || unrelatedSample > MAX_UNRELATED_SAMPLE) {
    throw badInput(`unrelatedSample must be an integer between 0 and ${MAX_UNRELATED_SAMPLE}`, "unrelatedSample");
  }
  const method = methodFromApi(input.method);

  // the arguments must fit the target and the kind
  if (target !== "EXPLICIT" && input.neurons != null) throw badInput(`neurons are only given with target EXPLICIT; ${target} takes the fact's stored neurons`, "neurons");
  if (target === "EXPLICIT" && !input.neurons?.length) throw badInput("target EXPLICIT needs a non-empty neurons list", "neurons");
  if (target !== "LIKN" && input.languages != null) throw badInput("languages only apply to target LIKN", "languages");
  if (kind === "update" && !input.newObject?.trim()) throw badInput("kind UPDATE needs newObject (the object the fact should get)", "newObject");
  if (kind !== "update" && input.newObject != null) throw badInput("newObject only applies to kind UPDATE", "newObject");
  if (kind !== "update" && input.strength != null) throw badInput("strength only applies to kind UPDATE", "strength");
  if (input.strength != null && !(Number.isFinite(input.strength) && input.strength > 0 && input.strength <= MAX_UPDATE_STRENGTH)) {
    throw badInput(`strength must be a number in (0, ${MAX_UPDATE_STRENGTH}]`, "strength");
  }
  if ((target !== "EXPLICIT" || kind === "update") && input.fact == null) {
    throw badInput(kind === "update" ? "kind UPDATE needs the fact whose object changes" : `target ${target} needs a fact`, "fact");
  }
  if (target === "KN" && input.language == null) throw badInput("target KN needs the language whose knowledge neurons are edited", "language");

  const fact = input.fact == null ? null : await requireFact(ctx, input.fact);
  const labelled = fact ? (await ctx.loaders.labels.load(fact.id)).map((l) => l.languageCode) : [];
  const requireLabel = (code: string, argument: string) => {
    checkLanguage(code, argument);
    if (fact && !labelled.includes(code)) throw badInput(`fact ${JSON.stringify(fact.id)} has no label in ${JSON.stringify(code)} (it has ${list(labelled)})`, argument);
    return code;
  };
  let language = input.language == null ? null : requireLabel(input.language, "language");
  if (language && !fact && !(await languageExists(ctx.prisma, language))) throw notFound("language", language);

  let languages: string[] | undefined;
  if (target === "LIKN") {
    if (input.languages != null) {
      languages = [...new Set(input.languages.map((l) => requireLabel(l, "languages")))];
      if (!languages.length) throw badInput("languages must not be empty (leave it out for all of the fact's languages)", "languages");
    } else {
      // "every language of the fact": those it has a label in and an attribution of this method for
      const stored = await storedNeuronCounts(ctx.pool, checkpoint.id, fact!.id, method);
      languages = labelled.filter((l) => stored.has(l)).sort();
      if (!languages.length) throw badInput(`no neurons: fact ${JSON.stringify(fact!.id)} has no stored ${method} attribution for ${checkpoint.name} in any language (index it with indexFacts first)`, "fact");
    }
  }
  if (fact && !language) language = defaultLanguage(languages ?? labelled);

  let neurons: Neuron[];
  if (target === "EXPLICIT") neurons = uniqueNeurons(input.neurons!.map((n) => checkNeuron(checkpoint, n)));
  else if (target === "KN") neurons = await resolveKnNeurons(ctx, checkpoint, fact!.id, language!, method);
  else neurons = await resolveLiknNeurons(ctx, checkpoint, fact!.id, languages!, method);
  neurons.forEach(([layer, index]) => checkNeuron(checkpoint, { layer, index }));

  const params: EditParams = { unrelatedSample };
  if (isActivationKind(kind)) params.factor = ACTIVATION_FACTOR[kind];
  if (target !== "EXPLICIT") params.method = method;
  if (languages) params.languages = languages;
  if (kind === "update") {
    params.newObject = input.newObject!.trim();
    params.strength = input.strength ?? UPDATE_LAMBDA;
  }
  return { checkpoint, kind, target, factId: fact?.id ?? null, sourceLanguage: language, neurons, newObject: params.newObject ?? null, unrelatedSample, params };
}

/** Refuses an edit that cannot coexist with the model's active edits (read under the mutex). */
async function checkConflicts(ctx: ApiContext, live: LiveModel, edit: ResolvedEdit): Promise<void> {
  if (isActivationKind(edit.kind)) {
    const combined = live.combinedScale({ kind: edit.kind, neurons: edit.neurons });
    if (!combined.ok) {
      const ids = (await activeEdits(ctx.pool, edit.checkpoint.id)).filter((e) => e.kind === "SUPPRESS" || e.kind === "ENHANCE").map((e) => e.id.toString());
      throw conflict(`${edit.kind.toUpperCase()} cannot join the active activation edits ${ids.join(", ")} of ${edit.checkpoint.name}: ${combined.reason}; revert them first`);
    }
    return;
  }
  const held = new Map<string, string>();
  for (const e of await activeEdits(ctx.pool, edit.checkpoint.id)) {
    if (e.kind === "ERASE" || e.kind === "UPDATE") for (const [l, u] of e.neurons) held.set(`${l}:${u}`, `${e.kind} edit ${e.id}`);
  }
  for (const [k, by] of live.heldNeurons()) held.set(k, held.get(k) ?? `edit ${by}`);
  const taken = edit.neurons.filter((n) => held.has(`${n[0]}:${n[1]}`));
  if (taken.length) {
    throw conflict(`neuron(s) ${taken.slice(0, 5).map(neuronText).join(", ")}${taken.length > 5 ? ", ..." : ""} already held by active ${held.get(`${taken[0][0]}:${taken[0][1]}`)}; revert it first`);
  }
}

interface Probe {
  factId: string;
  language: string;
  related: boolean;
  probe: FactProbe;
}

/** The edited fact in each of its languages, then the unrelated sample in the source language. */
async function buildProbes(ctx: ApiContext, live: LiveModel, edit: ResolvedEdit): Promise<Probe[]> {
  const toProbe = (row: FactPromptRow, related: boolean): Probe | { error: string } => {
    const probe = factProbe(live.lm, { template: row.template, subject: row.subject, object: row.object, language: row.languageCode });
    return "error" in probe ? probe : { factId: row.factId, language: row.languageCode, related, probe };
  };
  const probes: Probe[] = [];
  if (edit.factId) {
    for (const row of await factPrompts(ctx.pool, [edit.factId])) {
      const p = toProbe(row, true);
      if ("probe" in p) probes.push(p);
      else if (row.languageCode === edit.sourceLanguage && edit.kind === "update") {
        throw badInput(`fact ${JSON.stringify(edit.factId)} cannot be measured in ${JSON.stringify(row.languageCode)}: ${p.error}`, "language");
      }
    }
  }
  if (edit.sourceLanguage && edit.unrelatedSample > 0) {
    const seed = createHash("sha256")
      .update(JSON.stringify([edit.checkpoint.id, edit.kind, edit.target, edit.factId, edit.sourceLanguage, edit.neurons, edit.newObject]))
      .digest("hex");
    // a few spares replace facts whose prompt does not fit this model
    const ids = await unrelatedFacts(ctx.pool, {
      checkpointId: edit.checkpoint.id, language: edit.sourceLanguage, excludeFactId: edit.factId, seed, limit: 2 * edit.unrelatedSample + 5,
    });
    const rows = new Map((await factPrompts(ctx.pool, ids, [edit.sourceLanguage])).map((r) => [r.factId, r]));
    let taken = 0;
    for (const id of ids) {
      const row = rows.get(id);
      const p = row && toProbe(row, false);
      if (!p || !("probe" in p)) continue;
      probes.push(p);
      if (++taken === edit.unrelatedSample) break;
    }
  }
  return probes;
}

function effectsOf(probes: readonly Probe[], before: readonly FactMeasurement[], after: readonly FactMeasurement[]): EffectRow[] {
  return probes.map((p, k) => ({
    factId: p.factId,
    languageCode: p.language,
    related: p.related,
    probBefore: before[k].probability,
    probAfter: after[k].probability,
    answerBefore: before[k].answer,
    answerAfter: after[k].answer,
  }));
}

async function editView(ctx: ApiContext, id: bigint): Promise<EditView> {
  const row = await findEdit(ctx.pool, id);
  if (!row) throw notFound("edit", id.toString());
  return { ...row, effects: (await effectsOfEdits(ctx.pool, [id])).get(id) ?? [] };
}

/** Measure, apply, measure, store; the model change is undone if anything after it fails. */
async function applyOnModel(ctx: ApiContext, live: LiveModel, edit: ResolvedEdit, appliedBy: string): Promise<bigint> {
  await checkConflicts(ctx, live, edit);
  const probes = await buildProbes(ctx, live, edit);
  const measured = probes.map((p) => p.probe);
  const before = await live.measure(measured);
  const params = { ...edit.params };
  if (edit.kind === "update") {
    const source = probes.findIndex((p) => p.related && p.language === edit.sourceLanguage);
    if (source < 0) throw badInput(`fact ${JSON.stringify(edit.factId)} cannot be measured in ${JSON.stringify(edit.sourceLanguage)}`, "language");
    params.oldTokenId = before[source].answerIds[0];
    params.oldAnswer = before[source].answer;
    params.newTokenId = newObjectTokenId(live.lm, edit.newObject!, edit.sourceLanguage!);
    if (params.newTokenId === undefined) throw badInput(`newObject ${JSON.stringify(edit.newObject)} encodes to no token`, "newObject");
    if (params.newTokenId === params.oldTokenId) {
      throw badInput(`the model already answers ${JSON.stringify(params.oldAnswer)} (token ${params.oldTokenId}) for fact ${JSON.stringify(edit.factId)} in ${JSON.stringify(edit.sourceLanguage)}: nothing to update`, "newObject");
    }
  }

  const id = await reserveEditId(ctx.pool);
  const key = id.toString();
  let savedWeights: Buffer | null = null;
  let after: FactMeasurement[] | undefined;
  let undo = () => {};
  if (isActivationKind(edit.kind)) {
    after = await live.measure(measured, { kind: edit.kind, neurons: edit.neurons });
  } else {
    const original = await live.lm.getValueVectors(edit.neurons);
    savedWeights = packVectors(original);
    const vectors = await weightEditVectors(edit.kind as "erase" | "update", original, params, (t) => live.lm.wordEmbedding(t));
    live.writeWeights(key, edit.neurons, vectors, original);
    undo = () => live.restoreWeights(key);
  }
  try {
    after ??= await live.measure(measured);
    const effects = effectsOf(probes, before, after);
    await saveEdit(
      ctx.pool,
      {
        id, checkpointId: edit.checkpoint.id, kind: edit.kind.toUpperCase() as EditRow["kind"], target: edit.target, factId: edit.factId,
        languageCode: edit.sourceLanguage, neurons: edit.neurons.map(([l, u]) => [l, u]), params, savedWeights, appliedBy,
      },
      effects,
    );
  } catch (err) {
    undo();
    throw err;
  }
  if (isActivationKind(edit.kind)) live.addActivation(key, edit.kind, edit.neurons);
  return id;
}

async function revertOnModel(ctx: ApiContext, live: LiveModel, id: bigint, revertedBy: string): Promise<void> {
  const row = await findEdit(ctx.pool, id);
  if (!row) throw notFound("edit", id.toString());
  if (row.status !== "ACTIVE") throw conflict(`edit ${id} is not active: it was reverted by ${row.revertedBy ?? "?"} at ${row.revertedAt?.toISOString() ?? "?"}`);
  const key = id.toString();
  let redo: () => Promise<void>;
  if (row.kind === "SUPPRESS" || row.kind === "ENHANCE") {
    live.removeActivation(key);
    redo = () => live.applyStored(row);
  } else {
    const neurons = row.neurons.map(([l, u]) => [l, u] as const);
    const edited = await live.lm.getValueVectors(neurons);
    if (!live.restoreWeights(key)) throw new Error(`active edit ${id} is not applied to the live model`);
    redo = async () => live.writeWeights(key, neurons, edited, await live.lm.getValueVectors(neurons));
  }
  try {
    if (!(await markReverted(ctx.pool, id, revertedBy))) throw conflict(`edit ${id} is not active any more`);
  } catch (err) {
    await redo();
    throw err;
  }
}

/** Indices of the k largest probabilities, ties by id. */
function topIndices(probs: Float32Array, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    if (out.length === k && probs[i] <= probs[out[k - 1]]) continue;
    let at = out.length === k ? k - 1 : out.length;
    out[at] = i;
    while (at > 0 && probs[out[at - 1]] < probs[i]) {
      out[at] = out[at - 1];
      out[--at] = i;
    }
  }
  return out;
}

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export const editingResolvers = {
  Query: {
    async predict(_: unknown, args: { model: string; text: string; top?: number | null }, ctx: ApiContext) {
      const checkpoint = await requireModel(ctx, args.model);
      const top = args.top ?? 10;
      if (!Number.isInteger(top) || top < 1 || top > MAX_PREDICT_TOP) throw badInput(`top must be an integer between 1 and ${MAX_PREDICT_TOP}`, "top");
      if (!args.text.trim()) throw badInput("text is empty", "text");
      try {
        return await liveModelsOf(ctx).use(checkpoint, async (live) => {
          const tok = live.lm.tokenizer;
          const inputIds = tok.encode(args.text);
          if (live.lm.architecture === "masked" && (tok.maskId === undefined || !inputIds.includes(tok.maskId))) {
            throw badInput(`${checkpoint.name} is a masked LM: text needs the mask token ${tok.maskToken ?? "[MASK]"}`, "text");
          }
          if (!inputIds.length) throw badInput("text gives no tokens", "text");
          if (inputIds.length > live.lm.maxPositions) throw badInput(`text has ${inputIds.length} tokens; ${checkpoint.name} reads at most ${live.lm.maxPositions}`, "text");
          const position = live.lm.targetPosition(inputIds);
          const probs = await live.probabilities(inputIds, position);
          return {
            model: checkpoint.name,
            inputIds,
            position,
            top: topIndices(probs, top).map((id) => ({ id, token: tok.idToToken(id) ?? `<${id}>`, probability: probs[id] })),
            activeEdits: live.activeEditIds(),
          };
        });
      } catch (err) {
        throw modelError(err, "text");
      }
    },
    async edits(_: unknown, args: { model?: string | null; status?: EditStatusName | null; first?: number | null; after?: string | null }, ctx: ApiContext) {
      const first = pageSize(args.first);
      const after = decodeCursor("edit", args.after);
      const checkpoint = args.model == null ? null : await requireModel(ctx, args.model);
      const page = await editPage(ctx.pool, { checkpointId: checkpoint?.id, status: args.status, after: after == null ? null : parseEditId(after, "after"), first });
      const effects = await effectsOfEdits(ctx.pool, page.rows.map((r) => r.id));
      const edges = page.rows.map((r) => ({ cursor: encodeCursor("edit", r.id.toString()), node: { ...r, effects: effects.get(r.id) ?? [] } }));
      return { totalCount: page.totalCount, edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    edit: (_: unknown, args: { id: string }, ctx: ApiContext) => editView(ctx, parseEditId(args.id)),
  },
  Mutation: {
    async applyEdit(_: unknown, args: { input: EditInputArgs }, ctx: ApiContext) {
      const principal = ctx.requireWrite();
      const edit = await resolveEdit(ctx, args.input);
      let id: bigint;
      try {
        id = await liveModelsOf(ctx).use(edit.checkpoint, (live) => applyOnModel(ctx, live, edit, principal.name));
      } catch (err) {
        throw modelError(err);
      }
      return editView(ctx, id);
    },
    async revertEdit(_: unknown, args: { id: string }, ctx: ApiContext) {
      const principal = ctx.requireWrite();
      const id = parseEditId(args.id);
      const row = await findEdit(ctx.pool, id);
      if (!row) throw notFound("edit", args.id);
      if (row.status !== "ACTIVE") throw conflict(`edit ${id} is not active: it was reverted by ${row.revertedBy ?? "?"} at ${row.revertedAt?.toISOString() ?? "?"}`);
      const checkpoint = await requireModel(ctx, row.model);
      try {
        await liveModelsOf(ctx).use(checkpoint, (live) => revertOnModel(ctx, live, id, principal.name));
      } catch (err) {
        throw modelError(err);
      }
      return editView(ctx, id);
    },
  },
  Edit: {
    id: (e: EditView) => e.id.toString(),
    fact: (e: EditView, _: unknown, ctx: ApiContext) => (e.factId ? ctx.loaders.fact.load(e.factId) : null),
    language: (e: EditView) => e.languageCode,
    neurons: (e: EditView) => e.neurons.map(([layer, index]) => ({ layer, index })),
    newObject: (e: EditView) => e.params.newObject ?? null,
    strength: (e: EditView) => (e.kind === "UPDATE" ? (e.params.strength ?? UPDATE_LAMBDA) : null),
    appliedAt: (e: EditView) => e.appliedAt.toISOString(),
    revertedAt: (e: EditView) => isoOrNull(e.revertedAt),
    reliability: (e: EditView) => summary(e).reliability,
    generality: (e: EditView) => summary(e).generality,
    locality: (e: EditView) => summary(e).locality,
  },
  EditEffect: {
    fact: (e: EffectRow, _: unknown, ctx: ApiContext) => ctx.loaders.fact.load(e.factId),
    language: (e: EffectRow) => e.languageCode,
    probabilityBefore: (e: EffectRow) => e.probBefore,
    probabilityAfter: (e: EffectRow) => e.probAfter,
    change: (e: EffectRow) => relativeChange(e.probBefore, e.probAfter),
  },
};

function summary(e: EditView) {
  return summarizeEffects(
    e.effects.map((x) => ({ language: x.languageCode, related: x.related, change: relativeChange(x.probBefore, x.probAfter) })),
    e.languageCode,
  );
}
