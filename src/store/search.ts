// Fact search by label: LIKE patterns on fact_label.subject / object, served by the pg_trgm GIN
// indexes fact_label_subject_trgm and fact_label_object_trgm (ILIKE on a pattern with 3 or more
// characters is a bitmap scan of each; shorter patterns have no trigram and scan the labels).
import type { Pool } from "pg";

export interface LabelHit {
  factId: string;
  language: string;
  subject: string;
  object: string;
  field: "SUBJECT" | "OBJECT";
}

/** `text` with LIKE's wildcards and escape character taken literally. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Labels whose subject or object contains `text` (or starts with it), case-insensitively; one hit
 * per label (SUBJECT when both match); prefix matches first, then shorter labels, then by fact.
 */
export async function searchLabels(
  pool: Pool,
  q: { text: string; match: "PREFIX" | "SUBSTRING"; language: string | null; relationId: string | null; first: number },
): Promise<LabelHit[]> {
  const literal = likeLiteral(q.text);
  const pattern = q.match === "PREFIX" ? `${literal}%` : `%${literal}%`;
  const { rows } = await pool.query<{ fact_id: string; language_code: string; subject: string; object: string; in_subject: boolean }>(
    `SELECT fl.fact_id, fl.language_code, fl.subject, fl.object, fl.subject ILIKE $1 AS in_subject
     FROM fact_label fl
     WHERE (fl.subject ILIKE $1 OR fl.object ILIKE $1)
       AND ($3::text IS NULL OR fl.language_code = $3)
       AND ($4::text IS NULL OR fl.fact_id IN (SELECT id FROM fact WHERE relation_id = $4))
     ORDER BY (CASE WHEN fl.subject ILIKE $2 OR fl.object ILIKE $2 THEN 0 ELSE 1 END),
              length(CASE WHEN fl.subject ILIKE $1 THEN fl.subject ELSE fl.object END), fl.fact_id, fl.language_code
     LIMIT $5`,
    [pattern, `${literal}%`, q.language, q.relationId, q.first],
  );
  return rows.map((r) => ({ factId: r.fact_id, language: r.language_code, subject: r.subject, object: r.object, field: r.in_subject ? "SUBJECT" : "OBJECT" }));
}
