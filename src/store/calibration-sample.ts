// Facts labelled in two languages, for calibrating τ of one against the other on the same facts.
import type { Pool } from "pg";

/** Ids of the facts with a label in both languages (optionally of these relations), ascending. */
export async function factsLabelledInBoth(pool: Pool, a: string, b: string, relations: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query<{ fact_id: string }>(
    `SELECT x.fact_id FROM fact_label x
     JOIN fact_label y ON y.fact_id = x.fact_id AND y.language_code = $2
     JOIN fact f ON f.id = x.fact_id
     WHERE x.language_code = $1 AND (cardinality($3::text[]) = 0 OR f.relation_id = ANY($3))
     ORDER BY x.fact_id`,
    [a, b, [...relations]],
  );
  return rows.map((r) => r.fact_id);
}

/** Languages with at least one fact label. */
export async function labelledLanguages(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ code: string }>(
    `SELECT l.code FROM language l WHERE EXISTS (SELECT 1 FROM fact_label fl WHERE fl.language_code = l.code) ORDER BY l.code`,
  );
  return rows.map((r) => r.code);
}
