// Stored fact-checking evaluations and single fact checks.
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
