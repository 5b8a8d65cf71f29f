// Checkpoint rows by name and relation rows by id, kept in the API process: every point query names
// its model (and the relation-wide ones a relation), and reading those rows cost a statement (a
// round trip) per request. They change rarely (a checkpoint is registered, its folder moves, a
// relation is imported, someone deletes a row by hand) and the database says when: a trigger on
// each table NOTIFYs channel kn_catalog with the table's name when the changing transaction commits
// (migration *_catalog_change_notify), and each API process (each replica) LISTENs on a connection
// of its own (opened with the pool's settings, outside the pool, so the pool keeps all its
// connections) and drops that table's rows on each notification, whichever process made the change.
//   - Only while that connection is listening are rows kept; until it is (at start) and from the
//     moment it is lost (then everything kept is dropped and a new connection is tried at the next
//     lookup), every lookup reads the table. A connection that dies silently (network cut) is
//     found by a heartbeat within 2 × HEARTBEAT_MS: the longest a missed change can go unseen.
//   - A lookup that was under way when a notification for its table came does not keep what it
//     read (it may have read the row before the change).
//   - Unknown names are not kept (a client could fill the cache with them); a row added after a
//     lookup missed it is found by the next one.
import pg from "pg";
import { relationsByIds } from "./catalog.ts";
import { checkpointsByNames } from "./checkpoints.ts";
import type { Checkpoint, Relation } from "./generated/client.ts";

export const CATALOG_CHANNEL = "kn_catalog";
/** Most rows kept per table (there are a handful of checkpoints and ~50 relations; the bound only caps memory). */
const MAX_ENTRIES = 1000;
/** How often the listening connection is checked, and how long its answer may take. */
const HEARTBEAT_MS = 5_000;

/** The kept rows of one table, by key. */
class Kept<T> {
  readonly rows = new Map<string, T>();
  /** Bumped by every notification for the table and every loss of the listening connection. */
  generation = 0;

  constructor(
    readonly table: string,
    readonly keyOf: (row: T) => string,
    readonly read: (pool: pg.Pool, keys: string[]) => Promise<T[]>,
  ) {}

  drop(): void {
    this.generation++;
    this.rows.clear();
  }
}

export class CatalogCache {
  private readonly checkpointRows = new Kept<Checkpoint>("checkpoint", (c) => c.name, checkpointsByNames);
  private readonly relationRows = new Kept<Relation>("relation", (r) => r.id, relationsByIds);
  private readonly tables = [this.checkpointRows, this.relationRows];
  private listener: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;
  /** Closes the listening connection. */
  private release: () => void = () => undefined;

  constructor(private readonly pool: pg.Pool) {}

  /** Starts listening (also done by the first lookup); resolves once listening, or once the attempt failed. */
  start(): Promise<void> {
    if (this.listener || this.closed) return Promise.resolve();
    this.connecting ??= this.listen().finally(() => (this.connecting = null));
    return this.connecting;
  }

  /** Whether rows are being kept (the listening connection is up). */
  get listening(): boolean {
    return this.listener !== null;
  }

  /** The checkpoints of these names that exist (each at most once, any order). */
  checkpointsByNames(names: readonly string[]): Promise<Checkpoint[]> {
    return this.lookup(this.checkpointRows, names);
  }

  /** The relations of these ids that exist (each at most once, any order). */
  relationsByIds(ids: readonly string[]): Promise<Relation[]> {
    return this.lookup(this.relationRows, ids);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ ...this.pool.options, application_name: "kn-catalog-listener" });
    const onNotification = (n: pg.Notification) => {
      if (n.channel !== CATALOG_CHANNEL) return;
      for (const t of this.tables) if (!n.payload || n.payload === t.table) t.drop();
    };
    const onLost = () => {
      if (this.listener !== client) return;
      this.listener = null;
      for (const t of this.tables) t.drop();
      this.release();
    };
    // errors end the connection (onLost, through "end"); one before it listens only fails listen()
    client.on("error", () => undefined);
    client.on("end", onLost);
    client.on("notification", onNotification);
    this.release = () => {
      client.off("notification", onNotification);
      client.end().catch(() => undefined);
    };
    try {
      await client.connect();
      await client.query(`LISTEN ${CATALOG_CHANNEL}`);
    } catch {
      this.release(); // the next lookup tries again; meanwhile every lookup reads the table
      return;
    }
    if (this.closed) {
      this.release();
      return;
    }
    this.listener = client;
    // a connection that died without closing (network cut) sends no error: asked every few seconds
    const heartbeat = setInterval(() => {
      if (this.listener !== client) return clearInterval(heartbeat);
      const timeout = setTimeout(onLost, HEARTBEAT_MS);
      client.query("SELECT 1").then(
        () => clearTimeout(timeout),
        () => (clearTimeout(timeout), onLost()),
      );
    }, HEARTBEAT_MS);
    heartbeat.unref();
  }

  private async lookup<T>(kept: Kept<T>, keys: readonly string[]): Promise<T[]> {
    if (!this.listener) void this.start();
    const found: T[] = [];
    const missing: string[] = [];
    for (const key of keys) {
      const row = kept.rows.get(key);
      if (row) found.push(row);
      else missing.push(key);
    }
    if (!missing.length) return found;
    const generation = kept.generation;
    const keep = this.listener !== null;
    const read = await kept.read(this.pool, missing);
    if (keep && this.listener !== null && generation === kept.generation) {
      if (kept.rows.size + read.length > MAX_ENTRIES) kept.rows.clear();
      for (const row of read) kept.rows.set(kept.keyOf(row), row);
    }
    return [...found, ...read];
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const client = this.listener;
    this.listener = null;
    for (const t of this.tables) t.drop();
    // onLost ignores this connection's end: it is no longer the listener
    await client?.end().catch(() => undefined);
  }
}
