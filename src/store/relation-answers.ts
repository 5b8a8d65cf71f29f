// Relation-level answers (LIKN of a relation over any language set, the language-overlap matrix)
// from a packed in-memory index of the relation's knowledge neurons. Computing such an answer in
// SQL reads every knowledge neuron of the relation in the languages (tens of thousands of index
// entries at 100 M rows), and the language sets are open-ended, so keeping answers does not help a
// first-time question. Instead each process loads, once per version of a (checkpoint, setting,
// relation), all its runs and knowledge neurons in every language (two index-only range scans
// packed into one bytea each, in one REPEATABLE READ snapshot that also reads the version) and
// answers every language set from memory (likn.ts). Each ask reads the relation's current version
// (one primary-key read); saveRuns raises it in the transaction that stores runs of the relation,
// triggers when runs are deleted or truncated, and versions come from one sequence, so a number is
// never given twice. An index is used only at the version its snapshot saw: no replica or process
// can answer from stale runs. The indexes of a pool are kept in a least-recently-used map within a
// byte budget.
import type { Pool, PoolClient } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import { named, withPoolClient } from "./client.ts";
import { LruMap } from "./lru-map.ts";
import { type SettingDbRow, settingIdSql, settingKey, settingOfRow, settingParams } from "./settings.ts";

/** A neuron as one number: layer · 2^20 + unit (units below 2^20, layers below 2^11). */
export const NEURON_UNIT_BITS = 20;

/**
 * A relation's runs and knowledge neurons at one version. Facts and languages are numbered
 * densely (f, c); run r of fact f in language c is `runOf[f * languages.size + c]` (-1: none),
 * its knowledge neurons `neurons[runStart[r] .. runStart[r + 1])`, ascending and distinct, and
 * `knowledgeCount[r]` the run's n_knowledge.
 */
export interface RelationIndex {
  /** relation_version's version the index was loaded at (null: no row, so no runs). */
  version: string | null;
  /** Language code → column. */
  languages: Map<string, number>;
  facts: number;
  runOf: Int32Array;
  knowledgeCount: Int32Array;
  runStart: Int32Array;
  neurons: Int32Array;
  bytes: number;
  /**
   * Answers computed from this index (likn.ts), by question: an index never changes (runs stored
   * for the relation make a new version, a new index), so an answer asked again is not recounted.
   */
  answers: LruMap<string, unknown>;
}

/** Most answers kept with one index (each a few kB: up to a few hundred neurons, or an overlap matrix). */
const ANSWERS_PER_INDEX = 16;

export interface RelationScope extends RunScope {
  relationId: string;
}

/** The relation's current version: one primary-key read (NULL when no run of it was ever stored). */
const VERSION = `SELECT (SELECT v.version FROM relation_version v
  WHERE v.checkpoint_id = $1 AND v.setting_id = ${settingIdSql(2)} AND v.relation_key = (SELECT key FROM relation WHERE id = $5))::text AS version`;

const RELATION_RUNS = `r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)} AND r.relation_key = (SELECT key FROM relation WHERE id = $5)`;

/** Runs as 10-byte records: fact key (int4), language key (int2), n_knowledge (int4). */
const RUNS = `SELECT string_agg(int4send(r.fact_key) || int2send(r.language_key) || int4send(r.n_knowledge), ''::bytea) AS packed
  FROM attribution_run r WHERE ${RELATION_RUNS}`;

/** Knowledge neurons as 10-byte records: fact key (int4), language key (int2), layer · 2^20 + unit (int4). */
const NEURONS = `SELECT string_agg(int4send(r.fact_key) || int2send(r.language_key) || int4send(r.layer * ${2 ** NEURON_UNIT_BITS} + r.unit), ''::bytea) AS packed
  FROM knowledge_neuron r WHERE ${RELATION_RUNS}`;

const RECORD_BYTES = 10;

/** Loads the relation's index on one connection, in one snapshot with its version. */
async function loadIndex(pool: Pool, q: RelationScope): Promise<RelationIndex> {
  const params = [q.checkpointId, ...settingParams(q.setting), q.relationId];
  const [version, runs, neurons, languages] = await withPoolClient(pool, async (db: PoolClient, lost) => {
    await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const read = async (sql: string) => (await db.query<{ packed: Buffer | null }>(named(sql, params))).rows[0]?.packed ?? Buffer.alloc(0);
      const v = (await db.query<{ version: string | null }>(named(VERSION, params))).rows[0]?.version ?? null;
      const r = await read(RUNS);
      const n = await read(NEURONS);
      const l = (await db.query<{ key: number; code: string }>(named(`SELECT key, code FROM language`, []))).rows;
      await db.query("COMMIT");
      return [v, r, n, l] as const;
    } catch (error) {
      if (!lost()) await db.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
  return buildIndex(version, runs, neurons, new Map(languages.map((l) => [l.key, l.code])));
}

function buildIndex(version: string | null, runs: Buffer, neurons: Buffer, codeOfKey: Map<number, string>): RelationIndex {
  const nRuns = runs.length / RECORD_BYTES;
  const factOf = new Map<number, number>();
  const columnOf = new Map<number, number>();
  const runFact = new Int32Array(nRuns);
  const runColumn = new Int32Array(nRuns);
  const knowledgeCount = new Int32Array(nRuns);
  for (let r = 0, o = 0; r < nRuns; r++, o += RECORD_BYTES) {
    const fact = runs.readInt32BE(o);
    const language = runs.readInt16BE(o + 4);
    let f = factOf.get(fact);
    if (f === undefined) factOf.set(fact, (f = factOf.size));
    let c = columnOf.get(language);
    if (c === undefined) columnOf.set(language, (c = columnOf.size));
    runFact[r] = f;
    runColumn[r] = c;
    knowledgeCount[r] = runs.readInt32BE(o + 6);
  }
  const width = columnOf.size;
  const runOf = new Int32Array(factOf.size * width).fill(-1);
  for (let r = 0; r < nRuns; r++) runOf[runFact[r] * width + runColumn[r]] = r;
  // neurons grouped by run (a counting sort), then each run's sorted and made distinct
  const nNeurons = neurons.length / RECORD_BYTES;
  const neuronRun = new Int32Array(nNeurons);
  const runStart = new Int32Array(nRuns + 1);
  for (let i = 0, o = 0; i < nNeurons; i++, o += RECORD_BYTES) {
    const f = factOf.get(neurons.readInt32BE(o));
    const c = columnOf.get(neurons.readInt16BE(o + 4));
    // a knowledge neuron always belongs to a run (foreign key): read in the same snapshot
    const r = f === undefined || c === undefined ? -1 : runOf[f * width + c];
    if (r < 0) throw new Error("knowledge neuron without its run in the relation's snapshot");
    neuronRun[i] = r;
    runStart[r + 1]++;
  }
  for (let r = 0; r < nRuns; r++) runStart[r + 1] += runStart[r];
  const fill = runStart.slice(0, nRuns);
  const packed = new Int32Array(nNeurons);
  for (let i = 0, o = 6; i < nNeurons; i++, o += RECORD_BYTES) packed[fill[neuronRun[i]]++] = neurons.readInt32BE(o);
  // distinct within each run (a neuron counts once per run), compacted in place
  let w = 0;
  for (let r = 0; r < nRuns; r++) {
    const run = packed.subarray(runStart[r], runStart[r + 1]).sort();
    runStart[r] = w;
    for (let i = 0; i < run.length; i++) if (i === 0 || run[i] !== run[i - 1]) packed[w++] = run[i];
  }
  runStart[nRuns] = w;
  const languages = new Map<string, number>();
  for (const [key, c] of columnOf) languages.set(codeOfKey.get(key)!, c);
  const index = { version, languages, facts: factOf.size, runOf, knowledgeCount, runStart, neurons: packed.slice(0, w) };
  return { ...index, answers: new LruMap(ANSWERS_PER_INDEX), bytes: index.runOf.byteLength + knowledgeCount.byteLength + runStart.byteLength + index.neurons.byteLength + 64 * languages.size + 256 };
}

const keyOf = (q: RelationScope) => `${q.checkpointId}|${settingKey(q.setting)}|${q.relationId}`;

/** Default byte budget of a pool's relation indexes (about 600 KB per relation and checkpoint at 100 M score rows). */
export const RELATION_INDEX_BUDGET_BYTES = 256 * 2 ** 20;

/** The relation indexes of one pool (one database): least recently used first. */
export class RelationIndexCache {
  private readonly entries = new Map<string, RelationIndex>();
  private readonly loading = new Map<string, Promise<RelationIndex>>();
  private used = 0;
  /** Indexes dropped to stay within the budget. */
  private evicted = 0;
  /** Loads from the database (each one a snapshot of a relation's runs). */
  loads = 0;

  constructor(
    private readonly pool: Pool,
    public maxBytes = RELATION_INDEX_BUDGET_BYTES,
  ) {}

  /** Bytes the kept indexes take. */
  get bytes(): number {
    return this.used;
  }

  /** The relation's index at its current version: kept, or loaded (once, whoever asks meanwhile). */
  async get(q: RelationScope): Promise<RelationIndex> {
    const key = keyOf(q);
    const params = [q.checkpointId, ...settingParams(q.setting), q.relationId];
    const version = (await this.pool.query<{ version: string | null }>(named(VERSION, params))).rows[0]?.version ?? null;
    const kept = this.entries.get(key);
    if (kept && version !== null && kept.version === version) {
      this.entries.delete(key);
      this.entries.set(key, kept); // most recently used last
      return kept;
    }
    const flight = `${key}|${version}`;
    let pending = this.loading.get(flight);
    if (!pending) {
      this.loads++;
      pending = loadIndex(this.pool, q).finally(() => this.loading.delete(flight));
      this.loading.set(flight, pending);
      void pending.then((index) => this.keep(key, index), () => undefined);
    }
    return pending;
  }

  /**
   * Loads the index of every (checkpoint, setting, relation) with stored runs, one after another,
   * until the byte budget is full: a process that answers LIKN or overlap questions can take the
   * loads (85–380 ms each at 100 M rows) before its first asks instead of inside them.
   */
  async warm(): Promise<{ loaded: number; bytes: number }> {
    const { rows } = await this.pool.query<SettingDbRow & { checkpoint_id: number; relation_id: string }>(
      `SELECT v.checkpoint_id, s.method, s.steps, s.target_mode, r.id AS relation_id
       FROM relation_version v JOIN run_setting s ON s.id = v.setting_id JOIN relation r ON r.key = v.relation_key
       ORDER BY v.checkpoint_id, s.id, r.id`,
    );
    let loaded = 0;
    for (const r of rows) {
      const scope = { checkpointId: r.checkpoint_id, setting: settingOfRow(r), relationId: r.relation_id };
      const [loads, evicted] = [this.loads, this.evicted];
      await this.get(scope);
      loaded += this.loads - loads;
      // the budget is full: the index was not kept, or keeping it dropped another
      if (!this.entries.has(keyOf(scope)) || this.evicted > evicted) break;
    }
    return { loaded, bytes: this.used };
  }

  /** Keeps a loaded index (unless an index of a later version is kept already), evicting the least recently used beyond the budget. */
  private keep(key: string, index: RelationIndex): void {
    // no version row: no run was ever stored, nothing worth keeping
    if (index.version === null || index.bytes > this.maxBytes) return;
    const kept = this.entries.get(key);
    if (kept) {
      if (kept.version !== null && BigInt(kept.version) > BigInt(index.version)) return;
      this.entries.delete(key);
      this.used -= kept.bytes;
    }
    this.entries.set(key, index);
    this.used += index.bytes;
    for (const [k, e] of this.entries) {
      if (this.used <= this.maxBytes) break;
      this.entries.delete(k);
      this.used -= e.bytes;
      this.evicted++;
    }
  }
}

const caches = new WeakMap<Pool, RelationIndexCache>();

/** The relation indexes kept for this pool. */
export function relationIndexes(pool: Pool): RelationIndexCache {
  let cache = caches.get(pool);
  if (!cache) caches.set(pool, (cache = new RelationIndexCache(pool)));
  return cache;
}

/** The run keys saveRuns files a batch under. */
export interface RelationOfRun {
  checkpointId: number;
  settingId: number;
  relationKey: number;
}

/**
 * Gives every (checkpoint, setting, relation) of these runs a new version (relation_version_seq),
 * in key order (so two writers lock shared rows in the same order and cannot deadlock). Called by
 * saveRuns as the last statement of its work, so the rows stay locked only until the caller commits.
 */
export async function raiseRelationVersions(db: PoolClient, runs: readonly RelationOfRun[]): Promise<void> {
  const keys = [...new Map(runs.map((r) => [`${r.checkpointId}|${r.settingId}|${r.relationKey}`, r])).values()];
  if (!keys.length) return;
  await db.query(
    named(
      `INSERT INTO relation_version AS v (checkpoint_id, setting_id, relation_key, version)
       SELECT k.checkpoint_id, k.setting_id, k.relation_key, nextval('relation_version_seq')
       FROM (SELECT * FROM unnest($1::int[], $2::smallint[], $3::smallint[]) AS k(checkpoint_id, setting_id, relation_key) ORDER BY 1, 2, 3) k
       ON CONFLICT (checkpoint_id, setting_id, relation_key) DO UPDATE SET version = nextval('relation_version_seq')`,
      [keys.map((k) => k.checkpointId), keys.map((k) => k.settingId), keys.map((k) => k.relationKey)],
    ),
  );
}
