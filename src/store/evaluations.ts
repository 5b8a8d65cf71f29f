// Stored fact-checking evaluations and single fact checks, and the facts they are run on.
import type { Pool } from "pg";
import type { FactCheckItem } from "../analysis/analysis-store.ts";
import type { PrismaClient } from "./generated/client.ts";

export interface FactCheckSettings {
  checkpointId: number;
  language: string;
  method: string;
  threshold: number;
  rho: number;
  seed: number;
}

export async function saveFactCheckEvaluation(prisma: PrismaClient, s: FactCheckSettings, results: object) {
  return prisma.factCheckEvaluation.create({
    data: {
      checkpointId: s.checkpointId,
      languageCode: s.language,
      method: s.method,
      threshold: s.threshold,
      rho: s.rho,
      seed: s.seed,
      // Prisma's Json input wants plain JSON: no undefined, no NaN
      results: JSON.parse(JSON.stringify(results)),
    },
  });
}

export async function saveFactCheck(
  prisma: PrismaClient,
  c: { checkpointId: number; relationId: string; language: string; subject: string; object: string; verdict: boolean; score: number; threshold: number; neurons: [number, number][] },
) {
  return prisma.factCheck.create({
    data: {
      checkpointId: c.checkpointId,
      relationId: c.relationId,
      languageCode: c.language,
      subject: c.subject,
      object: c.object,
      verdict: c.verdict,
      score: Number.isFinite(c.score) ? c.score : 0,
      threshold: c.threshold,
      neurons: c.neurons,
    },
  });
}

/** Stored fact checks of a checkpoint, newest first. */
export async function listFactChecks(prisma: PrismaClient, q: { checkpointId: number; relationId: string | null; language: string | null; first: number }) {
  return prisma.factCheck.findMany({
    where: { checkpointId: q.checkpointId, ...(q.relationId ? { relationId: q.relationId } : {}), ...(q.language ? { languageCode: q.language } : {}) },
    orderBy: { id: "desc" },
    take: q.first,
  });
}

/** Stored fact-checking evaluations of a checkpoint (one language, or all), newest first. */
export async function listFactCheckEvaluations(prisma: PrismaClient, q: { checkpointId: number; language: string | null; first?: number }) {
  return prisma.factCheckEvaluation.findMany({
    where: { checkpointId: q.checkpointId, ...(q.language ? { languageCode: q.language } : {}) },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: q.first,
  });
}

/** The facts of a language with their relation's first template and first wrong object (§7). */
export async function factCheckItems(pool: Pool, language: string): Promise<FactCheckItem[]> {
  const { rows } = await pool.query<{ fact_id: string; relation_id: string; template: string; subject: string; object: string; wrong: string }>(
    `SELECT fl.fact_id, f.relation_id, t.text AS template, fl.subject, fl.object, w.label AS wrong
     FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
     JOIN LATERAL (SELECT text FROM template WHERE relation_id = f.relation_id AND language_code = fl.language_code ORDER BY id LIMIT 1) t ON true
     JOIN wrong_object w ON w.fact_id = fl.fact_id AND w.language_code = fl.language_code AND w.rank = 0
     WHERE fl.language_code = $1 ORDER BY f.relation_id, fl.fact_id`,
    [language],
  );
  return rows.map((r) => ({ factId: r.fact_id, relationId: r.relation_id, template: r.template, subject: r.subject, object: r.object, wrong: r.wrong }));
}

export interface EditEvaluationSettings {
  checkpointId: number;
  sourceLanguage: string;
  templates: string;
  method: string;
  steps: number;
  seed: string;
}

/** One run of `kn evaluate editing`: its settings, every edit's outcome and the summaries. */
export async function saveEditEvaluation(prisma: PrismaClient, s: EditEvaluationSettings, results: object) {
  return prisma.editEvaluation.create({
    data: { ...s, results: JSON.parse(JSON.stringify(results)) },
  });
}
