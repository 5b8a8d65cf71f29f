// Checkpoint rows by name, kept in the API process: every point query names its model, and reading
// its row cost a statement (a round trip) per request. The rows change rarely (a checkpoint is
// registered, its folder moves, someone deletes one by hand) and the database says when: a trigger
// on the checkpoint table NOTIFYs channel kn_checkpoint when the changing transaction commits
// (migration *_checkpoint_change_notify), and each API process (each replica) LISTENs on a
// connection of its own and empties its cache on every notification, whichever process made the change.
//   - Only while that connection is listening are rows kept; until it is (at start) and from the
//     moment it is lost (then the cache is emptied and a new connection is tried at the next
//     lookup), every lookup reads the table. A connection that dies silently (network cut) is
//     found by a heartbeat within 2 × HEARTBEAT_MS: the longest a missed change can go unseen.
//   - A lookup that was under way when a notification came does not keep what it read (it may have
//     read the row before the change).
//   - Unknown names are not kept (a client could fill the cache with them); a checkpoint
//     registered after a lookup missed it is found by the next one.
import type pg from "pg";
import { checkpointsByNames } from "./checkpoints.ts";
import type { Checkpoint } from "./generated/client.ts";

export const CHECKPOINT_CHANNEL = "kn_checkpoint";
/** Most names kept (there are a handful of checkpoints; the bound only caps memory). */
const MAX_ENTRIES = 1000;
/** How often the listening connection is checked, and how long its answer may take. */
const HEARTBEAT_MS = 5_000;

export class CheckpointCache {
  private readonly rows = new Map<string, Checkpoint>();
  /** Bumped by every notification and every loss of the listening connection. */
  private generation = 0;
  private listener: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private closed = false;

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

  private async listen(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch {
      return; // the next lookup tries again; meanwhile every lookup reads the table
    }
    const onNotification = (n: pg.Notification) => n.channel === CHECKPOINT_CHANNEL && this.invalidate();
    const onLost = (error?: Error) => {
      if (this.listener !== client) return;
      this.listener = null;
      this.invalidate();
      this.release(error ?? new Error("checkpoint cache: listening connection ended"));
    };
    const onEnd = () => onLost();
    client.on("error", onLost);
    client.on("end", onEnd);
    client.on("notification", onNotification);
    this.release = (error?: Error) => {
      client.off("error", onLost);
      client.off("end", onEnd);
      client.off("notification", onNotification);
      client.release(error);
    };
    try {
      await client.query(`LISTEN ${CHECKPOINT_CHANNEL}`);
    } catch (error) {
      this.release(error as Error);
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
      const timeout = setTimeout(() => onLost(new Error("checkpoint cache: heartbeat timed out")), HEARTBEAT_MS);
      client.query("SELECT 1").then(
        () => clearTimeout(timeout),
        (error: Error) => (clearTimeout(timeout), onLost(error)),
      );
    }, HEARTBEAT_MS);
    heartbeat.unref();
  }

  /** Gives the listening connection back to the pool (with an error: the pool discards it). */
  private release: (error?: Error) => void = () => undefined;

  private invalidate(): void {
    this.generation++;
    this.rows.clear();
  }

  /** The checkpoints of these names that exist (each at most once, any order). */
  async byNames(names: readonly string[]): Promise<Checkpoint[]> {
    if (!this.listener) void this.start();
    const found: Checkpoint[] = [];
    const missing: string[] = [];
    for (const name of names) {
      const row = this.rows.get(name);
      if (row) found.push(row);
      else missing.push(name);
    }
    if (!missing.length) return found;
    const generation = this.generation;
    const keep = this.listener !== null;
    const read = await checkpointsByNames(this.pool, missing);
    if (keep && this.listener !== null && generation === this.generation) {
      if (this.rows.size + read.length > MAX_ENTRIES) this.rows.clear();
      for (const row of read) this.rows.set(row.name, row);
    }
    return [...found, ...read];
  }

  /** Stops listening and gives the connection back to the pool (before the pool ends). */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const client = this.listener;
    this.listener = null;
    this.invalidate();
    if (client) {
      const failed = await client.query(`UNLISTEN ${CHECKPOINT_CHANNEL}`).then(() => undefined, (error: Error) => error);
      this.release(failed);
    }
  }
}
