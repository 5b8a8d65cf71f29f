// Live-model editing through the API: predict, applyEdit / revertEdit and the edit history.
//
// applyEdit checks everything it can from the request and the database first (nothing changes
// on a refusal), then hands the edit to the model host (src/api/model-host.ts), which measures,
// applies and stores it under the model's mutex, off the API's event loop.
import { GraphQLError } from "graphql";
import {
  type EditKind, ACTIVATION_FACTOR, isActivationKind, relativeChange, summarizeEffects, uniqueNeurons, UPDATE_LAMBDA,
} from "../../attribution/editing.ts";
import { type RunSetting, settingLabel } from "../../attribution/run-setting.ts";
import { type Neuron, ModelError } from "../../model/index.ts";
import {
  type EditMeasurementRow, type EditParams, editMeasurements, editPage, effectsOfEdits, findEdit, storedNeuronCounts, withCheckpointEditLock,
} from "../../store/edits.ts";
import type { Checkpoint } from "../../store/generated/client.ts";
import { factLanguageIndependentNeurons } from "../../store/likn.ts";
import { knowledgeNeuronsOfRuns, findRun } from "../../store/neurons.ts";
import { languageExists } from "../../store/catalog.ts";
import type { ApiContext } from "../context.ts";
import { settingFromApi } from "../enums.ts";
import { apiError, badInput, notFound } from "../errors.ts";
import type { EditInput, NeuronInput, Resolvers, UpdateRule } from "../generated/resolvers.ts";
import { present } from "../loaders.ts";
import type { ResolvedEdit } from "../model-host.ts";
import type { EditParent } from "../parents.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";
import { checkLanguage, checkRelationId } from "./catalog.ts";
import { hostCheckpoint, requireFact, requireModel } from "./neurons.ts";

/** Unrelated facts measured per edit at most (each costs a forward pass per object piece, twice). */
export const MAX_UNRELATED_SAMPLE = 50;
const MAX_UPDATE_STRENGTH = 100;
export const MAX_PREDICT_TOP = 100;

type NeuronArg = NeuronInput;

const conflict = (message: string) => apiError("CONFLICT", message);
const list = (xs: readonly string[]) => xs.map((x) => JSON.stringify(x)).join(", ");

/** Model problems: bad input is the caller's; anything else (files gone, backend) is the server's. */
export function modelError(err: unknown, argument?: string): unknown {
  if (!(err instanceof ModelError)) return err;
  if (err.code === "bad-input") return badInput(err.message, argument);
  return new GraphQLError(`the model cannot be used: ${err.message}`, { extensions: { code: "INTERNAL_SERVER_ERROR", reason: err.code } });
}

function parseEditId(id: string, argument = "id"): bigint {
  if (!/^\d{1,18}$/.test(id)) throw badInput(`invalid edit id ${JSON.stringify(id)}`, argument);
  return BigInt(id);
}

function checkNeuron(checkpoint: Checkpoint, n: NeuronArg): Neuron {
  const ok = Number.isInteger(n.layer) && n.layer >= 0 && n.layer < checkpoint.nLayers && Number.isInteger(n.unit) && n.unit >= 0 && n.unit < checkpoint.ffnWidth;
  if (!ok) {
    throw badInput(
      `neuron (${n.layer}, ${n.unit}) is out of range for ${checkpoint.name}: layer must be in [0, ${checkpoint.nLayers}) and unit in [0, ${checkpoint.ffnWidth})`,
      "neurons",
    );
  }
  return [n.layer, n.unit];
}

/** The default source language among a fact's languages: English if it has it, else the first. */
const defaultLanguage = (languages: readonly string[]) => (languages.includes("en") ? "en" : [...languages].sort()[0]);

async function resolveKnNeurons(ctx: ApiContext, checkpoint: Checkpoint, factId: string, language: string, setting: RunSetting): Promise<Neuron[]> {
  const run = await findRun(ctx.pool, { checkpointId: checkpoint.id, setting, factId, language });
  if (!run) {
    throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no stored ${settingLabel(setting)} attribution in ${JSON.stringify(language)} for ${checkpoint.name} (index it with indexFacts first)`, "fact");
  }
  const neurons = (await knowledgeNeuronsOfRuns(ctx.pool, [run])).get(run.id) ?? [];
  if (!neurons.length) throw badInput(`no neurons: the ${settingLabel(setting)} run of fact ${JSON.stringify(factId)} in ${JSON.stringify(language)} selected no knowledge neuron`, "fact");
  return neurons.map((n) => [n.layer, n.unit]);
}

async function resolveLiknNeurons(ctx: ApiContext, checkpoint: Checkpoint, factId: string, languages: readonly string[], setting: RunSetting): Promise<Neuron[]> {
  const stored = await storedNeuronCounts(ctx.pool, { checkpointId: checkpoint.id, setting, factId });
  const unindexed = languages.filter((l) => !stored.has(l));
  if (unindexed.length) {
    throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no stored ${settingLabel(setting)} attribution in ${list(unindexed)} for ${checkpoint.name} (index it with indexFacts first)`, "languages");
  }
  const empty = languages.filter((l) => stored.get(l)!.neurons === 0);
  if (empty.length) throw badInput(`no neurons: fact ${JSON.stringify(factId)} has no knowledge neuron in ${list(empty)}`, "languages");
  const neurons = await factLanguageIndependentNeurons(ctx.pool, { checkpointId: checkpoint.id, setting, factId, languages });
  if (!neurons.length) throw badInput(`no neurons: the knowledge neurons of fact ${JSON.stringify(factId)} in ${list(languages)} have none in common`, "languages");
  return neurons;
}

/** Every check that needs only the request and the database; throws before anything changes. */
async function resolveEdit(ctx: ApiContext, input: EditInput): Promise<ResolvedEdit> {
  const checkpoint = await requireModel(ctx, input.model);
  const kind = input.kind.toLowerCase() as EditKind;
  const target = input.target;
  const unrelatedSample = input.unrelatedSample ?? 5;
  if (!Number.isInteger(unrelatedSample) || unrelatedSample < 0 || unrelatedSample > MAX_UNRELATED_SAMPLE) {
    throw badInput(`unrelatedSample must be an integer between 0 and ${MAX_UNRELATED_SAMPLE}`, "unrelatedSample");
  }
  const setting = settingFromApi(input);

  // the arguments must fit the target and the kind
  if (target !== "EXPLICIT" && input.neurons != null) throw badInput(`neurons are only given with target EXPLICIT; ${target} takes the fact's stored neurons`, "neurons");
  if (target === "EXPLICIT" && !input.neurons?.length) throw badInput("target EXPLICIT needs a non-empty neurons list", "neurons");
  if (target !== "LIKN" && input.languages != null) throw badInput("languages only apply to target LIKN", "languages");
  if (kind === "update" && !input.newObject?.trim()) throw badInput("kind UPDATE needs newObject (the object the fact should get)", "newObject");
  if (kind !== "update" && input.newObject != null) throw badInput("newObject only applies to kind UPDATE", "newObject");
  if (kind !== "update" && input.strength != null) throw badInput("strength only applies to kind UPDATE", "strength");
  if (kind !== "update" && input.updateRule != null && input.updateRule !== "EMBEDDING") throw badInput("updateRule only applies to kind UPDATE", "updateRule");
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
      const stored = await storedNeuronCounts(ctx.pool, { checkpointId: checkpoint.id, setting, factId: fact!.id });
      languages = labelled.filter((l) => stored.has(l)).sort();
      if (!languages.length) throw badInput(`no neurons: fact ${JSON.stringify(fact!.id)} has no stored ${settingLabel(setting)} attribution for ${checkpoint.name} in any language (index it with indexFacts first)`, "fact");
    }
  }
  if (fact && !language) language = defaultLanguage(languages ?? labelled);

  let neurons: Neuron[];
  if (target === "EXPLICIT") neurons = uniqueNeurons(input.neurons!.map((n) => checkNeuron(checkpoint, n)));
  else if (target === "KN") neurons = await resolveKnNeurons(ctx, checkpoint, fact!.id, language!, setting);
  else neurons = await resolveLiknNeurons(ctx, checkpoint, fact!.id, languages!, setting);
  neurons.forEach(([layer, unit]) => checkNeuron(checkpoint, { layer, unit }));

  const params: EditParams = { unrelatedSample };
  if (isActivationKind(kind)) params.factor = ACTIVATION_FACTOR[kind];
  if (target !== "EXPLICIT") Object.assign(params, setting);
  if (languages) params.languages = languages;
  if (kind === "update") {
    params.newObject = input.newObject!.trim();
    params.strength = input.strength ?? UPDATE_LAMBDA;
    params.rule = input.updateRule === "GRADIENT" ? "gradient" : "embedding";
  }
  return { checkpoint: hostCheckpoint(checkpoint), kind, target, factId: fact?.id ?? null, sourceLanguage: language, neurons, newObject: params.newObject ?? null, unrelatedSample, params };
}

async function editView(ctx: ApiContext, id: bigint): Promise<EditParent | null> {
  const row = await findEdit(ctx.pool, id);
  if (!row) return null;
  return { ...row, effects: (await effectsOfEdits(ctx.pool, [id])).get(id) ?? [] };
}

/** Cross-lingual editing results: measurements grouped by kind, target, source and measured language, related or not. */
function editingResultsOf(rows: readonly EditMeasurementRow[]) {
  const groups = new Map<string, { row: EditMeasurementRow; edits: Set<bigint>; changes: number[]; answerChanged: number }>();
  for (const r of rows) {
    const key = [r.kind, r.target, r.sourceLanguage ?? "", r.languageCode, r.related].join("|");
    const g = groups.get(key) ?? { row: r, edits: new Set(), changes: [], answerChanged: 0 };
    g.edits.add(r.editId);
    g.changes.push(relativeChange(r.probBefore, r.probAfter));
    if (r.answerAfter !== r.answerBefore) g.answerChanged++;
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => ({
      kind: g.row.kind,
      target: g.row.target,
      sourceLanguage: g.row.sourceLanguage,
      language: g.row.languageCode,
      related: g.row.related,
      edits: g.edits.size,
      measurements: g.changes.length,
      meanChange: g.changes.reduce((a, b) => a + b, 0) / g.changes.length,
      answerChangedShare: g.answerChanged / g.changes.length,
    }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.target.localeCompare(b.target) || (a.sourceLanguage ?? "").localeCompare(b.sourceLanguage ?? "") ||
      Number(b.related) - Number(a.related) || a.language.localeCompare(b.language));
}

export const editingResolvers: Resolvers = {
  Query: {
    async predict(_, args, ctx) {
      const checkpoint = await requireModel(ctx, args.model);
      const top = args.top ?? 10;
      if (!Number.isInteger(top) || top < 1 || top > MAX_PREDICT_TOP) throw badInput(`top must be an integer between 1 and ${MAX_PREDICT_TOP}`, "top");
      if (!args.text.trim()) throw badInput("text is empty", "text");
      try {
        return { model: checkpoint.name, ...(await ctx.modelHost.predict(hostCheckpoint(checkpoint), args.text, top)) };
      } catch (err) {
        throw modelError(err, "text");
      }
    },
    async edits(_, args, ctx) {
      const first = pageSize(args.first);
      const after = decodeCursor("edit", args.after);
      const checkpoint = args.model == null ? null : await requireModel(ctx, args.model);
      const page = await editPage(ctx.pool, { checkpointId: checkpoint?.id, status: args.status, after: after == null ? null : parseEditId(after, "after"), first });
      const effects = await effectsOfEdits(ctx.pool, page.rows.map((r) => r.id));
      const edges = page.rows.map((r) => ({ cursor: encodeCursor("edit", r.id.toString()), node: { ...r, effects: effects.get(r.id) ?? [] } }));
      return { totalCount: page.totalCount, edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
    edit: (_, args, ctx) => editView(ctx, parseEditId(args.id)),
    async editingResults(_, args, ctx) {
      const relationId = args.relation == null ? null : checkRelationId(args.relation);
      const checkpoint = await ctx.loaders.checkpoint.load(args.model);
      if (!checkpoint) return null;
      const rows = await editMeasurements(ctx.pool, { checkpointId: checkpoint.id, relationId, kind: args.kind ?? null, target: args.target ?? null, status: args.status ?? null });
      return editingResultsOf(rows);
    },
  },
  Mutation: {
    async applyEdit(_, args, ctx) {
      const principal = ctx.requireWrite();
      const edit = await resolveEdit(ctx, args.input);
      let id: bigint;
      try {
        // one replica at a time per checkpoint: the host reconciles with the database first, so
        // it sees the edits other replicas stored before it checks for a conflict
        id = await withCheckpointEditLock(ctx.pool, edit.checkpoint.id, () => ctx.modelHost.applyEdit(edit, principal.name));
      } catch (err) {
        throw modelError(err);
      }
      return (await editView(ctx, id))!;
    },
    async revertEdit(_, args, ctx) {
      const principal = ctx.requireWrite();
      const id = parseEditId(args.id);
      const row = await findEdit(ctx.pool, id);
      if (!row) throw notFound("edit", args.id);
      if (row.status !== "ACTIVE") throw conflict(`edit ${id} is not active: it was reverted by ${row.revertedBy ?? "?"} at ${row.revertedAt?.toISOString() ?? "?"}`);
      const checkpoint = await requireModel(ctx, row.model);
      try {
        await withCheckpointEditLock(ctx.pool, checkpoint.id, () => ctx.modelHost.revertEdit(hostCheckpoint(checkpoint), id, principal.name));
      } catch (err) {
        throw modelError(err);
      }
      return (await editView(ctx, id))!;
    },
  },
  Edit: {
    id: (e) => e.id.toString(),
    fact: (e, _, ctx) => (e.factId ? ctx.loaders.fact.load(e.factId) : null),
    language: (e) => e.languageCode,
    neurons: (e) => e.neurons.map(([layer, unit]) => ({ layer, unit })),
    newObject: (e) => e.params.newObject ?? null,
    strength: (e) => (e.kind === "UPDATE" ? (e.params.strength ?? UPDATE_LAMBDA) : null),
    updateRule: (e) => (e.kind === "UPDATE" ? ((e.params.rule ?? "embedding").toUpperCase() as UpdateRule) : null),
    reliability: (e) => summary(e).reliability,
    generality: (e) => summary(e).generality,
    locality: (e) => summary(e).locality,
  },
  EditEffect: {
    fact: (e, _, ctx) => present(ctx.loaders.fact.load(e.factId), `fact ${e.factId}`),
    language: (e) => e.languageCode,
    probabilityBefore: (e) => e.probBefore,
    probabilityAfter: (e) => e.probAfter,
    change: (e) => relativeChange(e.probBefore, e.probAfter),
  },
};

function summary(e: EditParent) {
  return summarizeEffects(
    e.effects.map((x) => ({ language: x.languageCode, related: x.related, change: relativeChange(x.probBefore, x.probAfter) })),
    e.languageCode,
  );
}
