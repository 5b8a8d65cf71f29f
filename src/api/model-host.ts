// The model host: everything the API computes with a live model, behind one typed interface, so
// the API thread never runs model work itself (server default: ThreadModelHost, a worker thread
// that owns the live models, their active edits and its own database pool). InlineModelHost runs
// the same operations in the calling thread: it is what the worker runs, and what tests use when
// they inspect the live weights directly.
//
// Edits: applyEdit checks conflicts with the active edits, measures before, applies, measures
// after, and stores edit + effects in one transaction; if storing fails the model change is
// undone. revertEdit undoes the model change, then marks the edit REVERTED; if that write fails
// the edit is put back. Either way a failing mutation leaves rows and weights as they were. The
// request was validated against the database by the resolver (ResolvedEdit) before it gets here.
import { createHash } from "node:crypto";
import type { Pool } from "pg";
import { type FactCheckEvaluationResult, type FactCheckOptions, type FactCheckVerdict, checkStatement, evaluateFactChecking } from "../analysis/fact-checking.ts";
import {
  type EditKind, type FactMeasurement, type FactProbe, factProbe, isActivationKind, packVectors,
} from "../attribution/editing.ts";
import { attributionModel } from "../attribution/model-port.ts";
import type { RunSetting } from "../attribution/run-setting.ts";
import { scores as attributionScores } from "../attribution/knowledge-neurons.ts";
import { type Neuron, neuronKey } from "../model/index.ts";
import { analysisStore } from "../store/analysis.ts";
import { factContexts } from "../store/index-jobs.ts";
import { type EditParams, type EditRow, type EditTargetName, type EffectRow, type FactPromptRow, activeEdits, factPrompts, findEdit, markReverted, reserveEditId, saveEdit, unrelatedFacts } from "../store/edits.ts";
import { apiError, badInput, notFound } from "./errors.ts";
import { type LiveCheckpoint, type LiveModel, LiveModels, type ModelLoader, type ReconcileResult } from "./live-models.ts";

/** A checkpoint as the host needs it: id, folder, and the name error messages use. */
export interface HostCheckpoint extends LiveCheckpoint {
  name: string;
}

/** An edit request checked against the database: everything but what needs the live model. */
export interface ResolvedEdit {
  checkpoint: HostCheckpoint;
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

export interface Prediction {
  inputIds: number[];
  position: number;
  top: { id: number; token: string; probability: number }[];
  /** Ids of the edits applied to the model that answered. */
  activeEdits: string[];
}

/** One statement to check: D_r from every stored DKN set of the relation in the language. */
export interface StatementQuery {
  relationId: string;
  language: string;
  template: string;
  subject: string;
  object: string;
}

/** A run to attribute again: the fact in a language with the run's setting. */
export interface GridQuery {
  factId: string;
  language: string;
  setting: RunSetting;
}

export interface ComputedGrid {
  layers: number;
  width: number;
  /** Row-major layers x width. */
  scores: Float32Array;
  /** Ids of the edits the live model carried (a grid computed under edits is not the run's). */
  activeEdits: string[];
}

export interface ModelHost {
  /** The distribution at the target position of `text` (active edits applied), its `top` tokens. */
  predict(checkpoint: HostCheckpoint, text: string, top: number): Promise<Prediction>;
  checkFact(checkpoint: HostCheckpoint, query: StatementQuery): Promise<FactCheckVerdict>;
  evaluateFactChecking(checkpoint: HostCheckpoint, options: FactCheckOptions): Promise<FactCheckEvaluationResult>;
  /** The full attribution grid of a stored run, computed again as the indexer computed it (every usable template, mean). */
  attributionGrid(checkpoint: HostCheckpoint, query: GridQuery): Promise<ComputedGrid>;
  /** The `top` tokens with the highest logits of a neuron's value vector through the output embedding (live weights). */
  promotedTokens(checkpoint: HostCheckpoint, neuron: Neuron, top: number): Promise<{ id: number; token: string; logit: number }[]>;
  /** Applies and stores an edit; returns its id. */
  applyEdit(edit: ResolvedEdit, appliedBy: string): Promise<bigint>;
  revertEdit(checkpoint: HostCheckpoint, id: bigint, revertedBy: string): Promise<void>;
  /**
   * Makes checkpoint C's live model carry exactly the edits the database has ACTIVE for it
   * (applies the missing ones, reverts the ones no longer active); nothing if C is not loaded.
   * Another API replica's edit reaches this one through this call.
   */
  reconcile(checkpoint: LiveCheckpoint): Promise<ReconcileResult>;
  /** Ids of the checkpoints this host has loaded (what a replica resyncs after a reconnect). */
  loadedCheckpoints(): Promise<number[]>;
  /** Loads every checkpoint that has active edits and re-applies them (API start-up). */
  restoreActiveEdits(): Promise<number>;
  close(): Promise<void>;
}

const conflict = (message: string) => apiError("CONFLICT", message);
const neuronText = (n: Neuron) => `(${n[0]}, ${n[1]})`;

/** Indices of the k largest values (probabilities, logits), ties by id. */
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

interface Probe {
  factId: string;
  language: string;
  related: boolean;
  probe: FactProbe;
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

/** The model host in the calling thread, over its own live-model registry and database pool. */
export class InlineModelHost implements ModelHost {
  readonly live: LiveModels;

  constructor(
    private readonly pool: Pool,
    load?: ModelLoader,
  ) {
    this.live = new LiveModels(pool, load);
  }

  predict(checkpoint: HostCheckpoint, text: string, top: number): Promise<Prediction> {
    return this.live.use(checkpoint, async (live) => {
      const tok = live.lm.tokenizer;
      const inputIds = tok.encode(text);
      if (live.lm.architecture === "masked" && (tok.maskId === undefined || !inputIds.includes(tok.maskId))) {
        throw badInput(`${checkpoint.name} is a masked LM: text needs the mask token ${tok.maskToken ?? "[MASK]"}`, "text");
      }
      if (!inputIds.length) throw badInput("text gives no tokens", "text");
      if (inputIds.length > live.lm.maxPositions) throw badInput(`text has ${inputIds.length} tokens; ${checkpoint.name} reads at most ${live.lm.maxPositions}`, "text");
      const position = live.lm.targetPosition(inputIds);
      const probs = await live.probabilities(inputIds, position);
      return {
        inputIds,
        position,
        top: topIndices(probs, top).map((id) => ({ id, token: tok.idToToken(id) ?? `<${id}>`, probability: probs[id] })),
        activeEdits: live.activeEditIds(),
      };
    });
  }

  checkFact(checkpoint: HostCheckpoint, q: StatementQuery): Promise<FactCheckVerdict> {
    return this.live.use(checkpoint, (live) => checkStatement(analysisStore(this.pool), attributionModel(live.lm), { checkpointId: checkpoint.id, ...q }));
  }

  evaluateFactChecking(checkpoint: HostCheckpoint, options: FactCheckOptions): Promise<FactCheckEvaluationResult> {
    return this.live.use(checkpoint, (live) => evaluateFactChecking(analysisStore(this.pool), attributionModel(live.lm), options));
  }

  attributionGrid(checkpoint: HostCheckpoint, q: GridQuery): Promise<ComputedGrid> {
    return this.live.use(checkpoint, async (live) => {
      const fact = (await factContexts(this.pool, [q]))?.get(`${q.factId}|${q.language}`);
      if (!fact) throw notFound("fact label", `${q.factId}/${q.language}`);
      const { scores } = await attributionScores(attributionModel(live.lm), { ...fact, language: q.language }, q.setting);
      const width = live.lm.ffnWidth;
      const flat = new Float32Array(scores.length * width);
      scores.forEach((row, layer) => flat.set(row, layer * width));
      return { layers: scores.length, width, scores: flat, activeEdits: live.activeEditIds() };
    });
  }

  promotedTokens(checkpoint: HostCheckpoint, neuron: Neuron, top: number): Promise<{ id: number; token: string; logit: number }[]> {
    return this.live.use(checkpoint, async (live) => {
      const [vector] = await live.lm.getValueVectors([neuron]);
      const logits = await live.lm.unembed(vector);
      const tok = live.lm.tokenizer;
      return topIndices(logits, top).map((id) => ({ id, token: tok.idToToken(id) ?? `<${id}>`, logit: logits[id] }));
    });
  }

  applyEdit(edit: ResolvedEdit, appliedBy: string): Promise<bigint> {
    return this.live.use(edit.checkpoint, (live) => this.applyOnModel(live, edit, appliedBy));
  }

  revertEdit(checkpoint: HostCheckpoint, id: bigint, revertedBy: string): Promise<void> {
    return this.live.use(checkpoint, (live) => this.revertOnModel(live, id, revertedBy));
  }

  reconcile(checkpoint: LiveCheckpoint): Promise<ReconcileResult> {
    return this.live.reconcile(checkpoint);
  }

  async loadedCheckpoints(): Promise<number[]> {
    return this.live.loadedCheckpoints();
  }

  restoreActiveEdits(): Promise<number> {
    return this.live.restoreActiveEdits();
  }

  close(): Promise<void> {
    return this.live.close();
  }

  /** Refuses an edit that cannot coexist with the model's active edits (read under the mutex). */
  private async checkConflicts(live: LiveModel, edit: ResolvedEdit): Promise<void> {
    if (isActivationKind(edit.kind)) {
      const combined = live.combinedScale({ kind: edit.kind, neurons: edit.neurons });
      if (!combined.ok) {
        const ids = (await activeEdits(this.pool, edit.checkpoint.id)).filter((e) => e.kind === "SUPPRESS" || e.kind === "ENHANCE").map((e) => e.id.toString());
        throw conflict(`${edit.kind.toUpperCase()} cannot join the active activation edits ${ids.join(", ")} of ${edit.checkpoint.name}: ${combined.reason}; revert them first`);
      }
      return;
    }
    const held = new Map<string, string>();
    for (const e of await activeEdits(this.pool, edit.checkpoint.id)) {
      if (e.kind === "ERASE" || e.kind === "UPDATE") for (const n of e.neurons) held.set(neuronKey(n), `${e.kind} edit ${e.id}`);
    }
    for (const [k, by] of live.heldNeurons()) held.set(k, held.get(k) ?? `edit ${by}`);
    const taken = edit.neurons.filter((n) => held.has(neuronKey(n)));
    if (taken.length) {
      throw conflict(`neuron(s) ${taken.slice(0, 5).map(neuronText).join(", ")}${taken.length > 5 ? ", ..." : ""} already held by active ${held.get(neuronKey(taken[0]))}; revert it first`);
    }
  }

  /** The edited fact in each of its languages, then the unrelated sample in the source language. */
  private async buildProbes(live: LiveModel, edit: ResolvedEdit): Promise<Probe[]> {
    const toProbe = (row: FactPromptRow, related: boolean): Probe | { error: string } => {
      const probe = factProbe(live.lm, { template: row.template, subject: row.subject, object: row.object, language: row.languageCode });
      return "error" in probe ? probe : { factId: row.factId, language: row.languageCode, related, probe };
    };
    const probes: Probe[] = [];
    if (edit.factId) {
      for (const row of await factPrompts(this.pool, [edit.factId])) {
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
      const ids = await unrelatedFacts(this.pool, {
        checkpointId: edit.checkpoint.id, language: edit.sourceLanguage, excludeFactId: edit.factId, seed, limit: 2 * edit.unrelatedSample + 5,
      });
      const rows = new Map((await factPrompts(this.pool, ids, [edit.sourceLanguage])).map((r) => [r.factId, r]));
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

  /** Measure, apply, measure, store; the model change is undone if anything after it fails. */
  private async applyOnModel(live: LiveModel, edit: ResolvedEdit, appliedBy: string): Promise<bigint> {
    // another replica may have changed the edits: the conflict check sees the database's
    await this.live.syncEdits(live);
    await this.checkConflicts(live, edit);
    const probes = await this.buildProbes(live, edit);
    const measured = probes.map((p) => p.probe);
    const before = await live.measure(measured);
    const params = { ...edit.params };
    if (edit.kind === "update") {
      const source = probes.findIndex((p) => p.related && p.language === edit.sourceLanguage);
      if (source < 0) throw badInput(`fact ${JSON.stringify(edit.factId)} cannot be measured in ${JSON.stringify(edit.sourceLanguage)}`, "language");
      // y_old, y_new, signs (and gradients): saved with the edit for re-application
      const target = await live.kn.updateTarget(probes[source].probe, before[source], edit.newObject!, edit.sourceLanguage!, edit.neurons, params.rule ?? "embedding");
      if ("refused" in target) {
        throw badInput(
          target.refused === "no-token"
            ? `newObject ${JSON.stringify(edit.newObject)} encodes to no token`
            : `the model already answers ${JSON.stringify(target.oldAnswer)} (token ${target.oldTokenId}) for fact ${JSON.stringify(edit.factId)} in ${JSON.stringify(edit.sourceLanguage)}: nothing to update`,
          "newObject",
        );
      }
      Object.assign(params, target);
    }

    const id = await reserveEditId(this.pool);
    const key = id.toString();
    let savedWeights: Buffer | null = null;
    let after: FactMeasurement[] | undefined;
    let undo = () => {};
    if (isActivationKind(edit.kind)) {
      after = await live.measure(measured, edit.kind === "suppress" ? live.kn.suppress(edit.neurons) : live.kn.enhance(edit.neurons));
    } else {
      const written = edit.kind === "erase" ? await live.kn.erase(edit.neurons) : await live.kn.update(edit.neurons, params);
      live.holdWeights(key, written);
      savedWeights = packVectors(written.original);
      undo = () => void live.restoreWeights(key);
    }
    try {
      after ??= await live.measure(measured);
      const effects = effectsOf(probes, before, after);
      await saveEdit(
        this.pool,
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

  private async revertOnModel(live: LiveModel, id: bigint, revertedBy: string): Promise<void> {
    await this.live.syncEdits(live);
    const row = await findEdit(this.pool, id);
    if (!row) throw notFound("edit", id.toString());
    if (row.status !== "ACTIVE") throw conflict(`edit ${id} is not active: it was reverted by ${row.revertedBy ?? "?"} at ${row.revertedAt?.toISOString() ?? "?"}`);
    const key = id.toString();
    let redo: () => Promise<void>;
    if (row.kind === "SUPPRESS" || row.kind === "ENHANCE") {
      live.removeActivation(key);
      redo = () => live.applyStored(row);
    } else {
      const held = live.restoreWeights(key);
      if (!held) throw new Error(`active edit ${id} is not applied to the live model`);
      redo = async () => {
        live.lm.setValueVectors(held.neurons, held.written);
        live.holdWeights(key, held);
      };
    }
    try {
      if (!(await markReverted(this.pool, id, revertedBy))) throw conflict(`edit ${id} is not active any more`);
    } catch (err) {
      await redo();
      throw err;
    }
  }
}
