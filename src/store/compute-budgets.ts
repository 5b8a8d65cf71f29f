// Compute-budget token buckets in PostgreSQL (table compute_budget), shared by every API replica:
// a client behind a load balancer has one budget, whichever replica answers it. One statement per
// take: an upsert that refills the bucket for the time since it was last taken from and takes the
// units only when they are there (the row lock makes concurrent takes from several replicas add
// up exactly). Time is the taking replica's clock, in milliseconds; a bucket last taken "in the
// future" by a replica whose clock runs ahead refills from then, so skew between replicas can
// only delay a refill by that skew, never grant more.
import type { Pool } from "pg";

export interface BudgetTake {
  /** "key:<name>" or "address:<ip>". */
  identity: string;
  units: number;
  /** Units per window (the bucket's size). */
  limit: number;
  windowSeconds: number;
  /** Milliseconds since the epoch. */
  now: number;
}

export type BudgetAnswer = { ok: true } | { ok: false; retryAfter: number };

/** Takes `units` from the identity's bucket; on refusal, the seconds until they would be there. */
export async function takeComputeUnits(pool: Pool, t: BudgetTake): Promise<BudgetAnswer> {
  const perMs = t.limit / (t.windowSeconds * 1000);
  // the bucket refilled up to now: $limit, $perMs and $now are the parameters named
  const refilled = (limit: string, perMs: string, now: string) => `LEAST(${limit}::float8, b.tokens + GREATEST(0, ${now}::float8 - b.at) * ${perMs}::float8)`;
  const taken = await pool.query(
    `INSERT INTO compute_budget AS b (identity, tokens, at) VALUES ($1, $2::float8 - $3::float8, $5::float8)
     ON CONFLICT (identity) DO UPDATE SET tokens = ${refilled("$2", "$4", "$5")} - $3::float8, at = GREATEST(b.at, $5::float8)
       WHERE ${refilled("$2", "$4", "$5")} >= $3::float8
     RETURNING 1`,
    [t.identity, t.limit, t.units, perMs, t.now],
  );
  if (taken.rowCount) return { ok: true };
  const { rows } = await pool.query<{ tokens: number }>(`SELECT ${refilled("$2", "$3", "$4")} AS tokens FROM compute_budget b WHERE identity = $1`, [t.identity, t.limit, perMs, t.now]);
  const tokens = rows[0]?.tokens ?? t.limit;
  return { ok: false, retryAfter: Math.max(1, Math.ceil((t.units - tokens) / perMs / 1000)) };
}

/** Deletes buckets untouched for a whole window: they have refilled completely (a missing bucket starts full). */
export async function pruneComputeBudgets(pool: Pool, q: { windowSeconds: number; now: number }): Promise<number> {
  const { rowCount } = await pool.query(`DELETE FROM compute_budget WHERE at < $1::float8`, [q.now - q.windowSeconds * 1000]);
  return rowCount ?? 0;
}
