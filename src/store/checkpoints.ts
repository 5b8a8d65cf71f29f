// The checkpoint registry: short names for model folders, with a content hash so that a folder
// whose weights changed is noticed instead of silently mixing runs of two different models.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Pool } from "pg";
import { named } from "./client.ts";
import type { Checkpoint, PrismaClient } from "./generated/client.ts";

export interface CheckpointShape {
  architecture: "masked" | "causal";
  modelType: string;
  nLayers: number;
  hidden: number;
  ffnWidth: number;
  vocabSize: number;
}

/** sha256 over config.json, the tokenizer files and every safetensors file, in name order. */
export async function checkpointContentHash(dir: string): Promise<string> {
  const names = readdirSync(dir)
    .filter((f) => f === "config.json" || f.startsWith("tokenizer") || f.endsWith(".safetensors") || f === "model.safetensors.index.json")
    .sort();
  const hash = createHash("sha256");
  for (const name of names) {
    hash.update(`${name}\0`);
    for await (const chunk of createReadStream(join(dir, name))) hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export class CheckpointConflictError extends Error {}

/**
 * Registers (or re-confirms) a checkpoint under a name. Re-registering the same folder content is
 * a no-op; the same name for different content is refused, because stored runs would then
 * describe a model that no longer exists.
 */
export async function registerCheckpoint(prisma: PrismaClient, name: string, dir: string, shape: CheckpointShape): Promise<Checkpoint> {
  const path = resolve(dir);
  const contentHash = await checkpointContentHash(path);
  const existing = await prisma.checkpoint.findUnique({ where: { name } });
  if (existing) {
    if (existing.contentHash !== contentHash) {
      throw new CheckpointConflictError(
        `checkpoint ${JSON.stringify(name)} is registered for different weights (${existing.path}); register this folder under another name`,
      );
    }
    if (existing.path === path) return existing;
    return prisma.checkpoint.update({ where: { id: existing.id }, data: { path } });
  }
  return prisma.checkpoint.create({
    data: {
      name,
      path,
      contentHash,
      architecture: shape.architecture === "masked" ? "MASKED" : "CAUSAL",
      modelType: shape.modelType,
      nLayers: shape.nLayers,
      hidden: shape.hidden,
      ffnWidth: shape.ffnWidth,
      vocabSize: shape.vocabSize,
    },
  });
}

export async function findCheckpoint(prisma: PrismaClient, name: string): Promise<Checkpoint | null> {
  return prisma.checkpoint.findUnique({ where: { name } });
}

export async function checkpointsByIds(prisma: PrismaClient, ids: readonly number[]): Promise<Checkpoint[]> {
  return prisma.checkpoint.findMany({ where: { id: { in: [...ids] } } });
}

/** Checkpoints by name, through pg: every API request resolves its model here, and a Prisma
 * query costs about four times the CPU of the same query on the pool. */
export async function checkpointsByNames(pool: Pool, names: readonly string[]): Promise<Checkpoint[]> {
  const { rows } = await pool.query<Checkpoint>(
    named(
      `SELECT id, name, architecture, model_type AS "modelType", n_layers AS "nLayers", hidden, ffn_width AS "ffnWidth",
              vocab_size AS "vocabSize", path, content_hash AS "contentHash", created_at AS "createdAt"
       FROM checkpoint WHERE name = ANY($1::text[])`,
      [[...names]],
    ),
  );
  return rows;
}

/** The folder a checkpoint was registered from; null when the id is unknown. */
export async function checkpointPath(pool: Pool, id: number): Promise<string | null> {
  const { rows } = await pool.query<{ path: string }>("SELECT path FROM checkpoint WHERE id = $1", [id]);
  return rows[0]?.path ?? null;
}

export const isCheckpointFolder = (dir: string) => existsSync(join(dir, "config.json"));
