// The live models of the model host (src/api/model-host.ts): checkpoints loaded on first use, with
// the edits that are ACTIVE in the database applied to them. Everything that reads or changes one
// model (predict, applyEdit, revertEdit, reconcile) runs under that checkpoint's mutex, so an edit
// is never half-applied while a prediction runs. The mutex is per host: one host owns its models.
//
// Activation edits (SUPPRESS ×0, ENHANCE ×2) are not weights: they are a scale the model applies
// at the target position of every probability pass. The runtime takes ONE factor per pass, so the
// active activation edits are combined into one set (combineActivationEdits): a neuron is ×0 if
// any active edit suppresses it, else ×2 if any enhances it; edits do not stack, and suppressed
// and enhanced neurons are never active together (applyEdit refuses that with CONFLICT).
// Weight edits (ERASE, UPDATE) overwrite value vectors; the originals are kept in memory (and in
// edit.saved_weights) and written back bit for bit on revert.
//
// After a restart nothing is in memory: loading a model re-applies its ACTIVE edits from their
// stored params, computed from the saved ORIGINAL vectors, so the weights come back bit-identical.
import type { Pool } from "pg";
import {
  type ActivationKind, type ActiveActivationEdit, type CombinedScale, type FactMeasurement, type FactProbe,
  combineActivationEdits, unpackVectors,
} from "../attribution/editing.ts";
import { KnowledgeNeurons, type WeightEdit } from "../attribution/knowledge-neurons.ts";
import { type LanguageModel, type Neuron, type NeuronScale, loadModel, neuronKey } from "../model/index.ts";
import { type EditRow, activeEdits, checkpointsWithActiveEdits } from "../store/edits.ts";

export interface LiveCheckpoint {
  id: number;
  path: string;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const byId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/** One loaded checkpoint and its active edits (keyed by edit id). */
export class LiveModel {
  private readonly activation = new Map<string, ActiveActivationEdit>();
  private readonly weights = new Map<string, WeightEdit>();
  /** The editing verbs over this model. */
  readonly kn: KnowledgeNeurons;

  constructor(
    readonly checkpointId: number,
    readonly lm: LanguageModel,
  ) {
    this.kn = new KnowledgeNeurons(lm);
  }

  activeEditIds(): string[] {
    return [...this.activation.keys(), ...this.weights.keys()].sort(byId);
  }

  /** The combined scale of the active activation edits, with `extra` (an edit being tried) added. */
  combinedScale(extra?: ActiveActivationEdit): CombinedScale {
    return combineActivationEdits(extra ? [...this.activation.values(), extra] : [...this.activation.values()]);
  }

  private scale(extra?: ActiveActivationEdit): NeuronScale | undefined {
    const combined = this.combinedScale(extra);
    // applyEdit checks combinedScale before an edit becomes active, so this cannot happen
    if (!combined.ok) throw new Error(`activation edits of checkpoint ${this.checkpointId} cannot be combined: ${combined.reason}`);
    return combined.scale;
  }

  /** Gold probabilities and greedy answers with every active edit applied (and `extra`). */
  measure(probes: readonly FactProbe[], extra?: ActiveActivationEdit): Promise<FactMeasurement[]> {
    return this.kn.measure(probes, this.scale(extra));
  }

  /** The distribution at `position` with every active edit applied. */
  probabilities(ids: readonly number[], position: number): Promise<Float32Array> {
    return this.lm.probabilities(ids, { position, scale: this.scale() });
  }

  addActivation(id: string, kind: ActivationKind, neurons: readonly Neuron[]): void {
    this.activation.set(id, { kind, neurons: neurons.map((n) => [n[0], n[1]] as const) });
  }

  removeActivation(id: string): boolean {
    return this.activation.delete(id);
  }

  /** Neuron "layer:unit" -> id of the active weight edit that holds it. */
  heldNeurons(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, held] of this.weights) for (const n of held.neurons) out.set(neuronKey(n), id);
    return out;
  }

  /** Records a weight edit written to the model (kn.erase / kn.update) as active edit `id`. */
  holdWeights(id: string, edit: WeightEdit): void {
    this.weights.set(id, edit);
  }

  /** Reverts active weight edit `id` (kn.revert) and returns it; undefined if it holds none. */
  restoreWeights(id: string): WeightEdit | undefined {
    const held = this.weights.get(id);
    if (!held) return undefined;
    this.kn.revert(held);
    this.weights.delete(id);
    return held;
  }

  /** Re-applies a stored ACTIVE edit (after a restart), from its params and saved originals. */
  async applyStored(edit: EditRow): Promise<void> {
    const id = edit.id.toString();
    const neurons = edit.neurons.map(([l, u]) => [l, u] as const);
    if (edit.kind === "SUPPRESS" || edit.kind === "ENHANCE") {
      this.addActivation(id, edit.kind === "SUPPRESS" ? "suppress" : "enhance", neurons);
      return;
    }
    if (!edit.savedWeights) throw new Error(`weight edit ${id} has no saved weights`);
    const original = unpackVectors(edit.savedWeights, neurons.length);
    const loaded = await this.lm.getValueVectors(neurons);
    if (!loaded.every((v, k) => sameBits(v, original[k]))) {
      // the checkpoint registry hashes the weights, so this means the folder changed under us
      console.warn(`edit ${id}: the saved original value vectors differ from checkpoint ${this.checkpointId}'s; re-applying from the saved ones`);
    }
    this.holdWeights(id, await this.kn.reapply(edit.kind === "ERASE" ? "erase" : "update", neurons, edit.params, original));
  }
}

export type ModelLoader = (path: string) => Promise<LanguageModel>;

/** What reconcile changed: edits applied from the database, edits reverted in memory. */
export interface ReconcileResult {
  /** False when the checkpoint is not loaded (it will load with the database's edits). */
  loaded: boolean;
  applied: string[];
  reverted: string[];
}

export class LiveModels {
  private readonly models = new Map<number, Promise<LiveModel>>();
  /** Tail of each checkpoint's queue of work; never rejects. */
  private readonly queues = new Map<number, Promise<unknown>>();

  constructor(
    private readonly pool: Pool,
    private readonly load: ModelLoader = (path) => loadModel(path),
  ) {}

  /** Runs fn on the checkpoint's live model, after everything queued before on that checkpoint. */
  use<T>(checkpoint: LiveCheckpoint, fn: (model: LiveModel) => T | Promise<T>): Promise<T> {
    const run = (this.queues.get(checkpoint.id) ?? Promise.resolve()).then(async () => fn(await this.model(checkpoint)));
    this.queues.set(checkpoint.id, run.catch(() => undefined));
    return run;
  }

  /**
   * Brings a loaded checkpoint's edits in line with the database: edits no longer ACTIVE there
   * are reverted in memory (weights restored bit for bit), ACTIVE edits missing here are applied
   * from their stored params and saved originals. Queued like any other work on the checkpoint.
   */
  reconcile(checkpoint: LiveCheckpoint): Promise<ReconcileResult> {
    const run = (this.queues.get(checkpoint.id) ?? Promise.resolve()).then(async (): Promise<ReconcileResult> => {
      const loading = this.models.get(checkpoint.id);
      if (!loading) return { loaded: false, applied: [], reverted: [] };
      return { loaded: true, ...(await this.syncEdits(await loading)) };
    });
    this.queues.set(checkpoint.id, run.catch(() => undefined));
    return run;
  }

  /** The work of reconcile on a model already held (call only inside its checkpoint's queue). */
  async syncEdits(live: LiveModel): Promise<Omit<ReconcileResult, "loaded">> {
    const stored = await activeEdits(this.pool, live.checkpointId);
    const storedIds = new Set(stored.map((e) => e.id.toString()));
    const reverted = live.activeEditIds().filter((id) => !storedIds.has(id));
    for (const id of reverted) if (!live.removeActivation(id)) live.restoreWeights(id);
    const present = new Set(live.activeEditIds());
    const missing = stored.filter((e) => !present.has(e.id.toString()));
    for (const edit of missing) await live.applyStored(edit);
    return { applied: missing.map((e) => e.id.toString()), reverted };
  }

  /** Ids of the checkpoints loaded (or loading) here. */
  loadedCheckpoints(): number[] {
    return [...this.models.keys()].sort((a, b) => a - b);
  }

  /** Loads every checkpoint that has active edits (API start-up), re-applying them. */
  async restoreActiveEdits(): Promise<number> {
    const checkpoints = await checkpointsWithActiveEdits(this.pool);
    for (const c of checkpoints) await this.use(c, () => undefined);
    return checkpoints.length;
  }

  /** Only called inside the checkpoint's queue, so a model is loaded (and restored) once. */
  private model(checkpoint: LiveCheckpoint): Promise<LiveModel> {
    let model = this.models.get(checkpoint.id);
    if (!model) {
      model = this.open(checkpoint);
      this.models.set(checkpoint.id, model);
      model.catch(() => this.models.delete(checkpoint.id)); // a failed load is retried on next use
    }
    return model;
  }

  private async open(checkpoint: LiveCheckpoint): Promise<LiveModel> {
    const lm = await this.load(checkpoint.path);
    const live = new LiveModel(checkpoint.id, lm);
    try {
      for (const edit of await activeEdits(this.pool, checkpoint.id)) await live.applyStored(edit);
    } catch (err) {
      lm.dispose();
      throw err;
    }
    return live;
  }

  /** Waits for queued work and frees the models. */
  async close(): Promise<void> {
    await Promise.all(this.queues.values());
    for (const model of this.models.values()) (await model.catch(() => undefined))?.lm.dispose();
    this.models.clear();
  }
}
