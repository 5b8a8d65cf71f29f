// Resolving --model for commands that store results: a registered checkpoint name, a demo model
// name, or a folder (registered under its folder name on first use).
import { basename, join } from "node:path";
import { ModelError, PROJECT_ROOT, readConfig } from "../model/index.ts";
import { CheckpointConflictError, findCheckpoint, isCheckpointFolder, registerCheckpoint } from "../store/checkpoints.ts";
import type { Checkpoint, PrismaClient } from "../store/generated/client.ts";
import { CliError } from "./errors.ts";

export const DEMO_MODELS = ["demo-mbert", "demo-mgpt"] as const;

export async function registerFolder(prisma: PrismaClient, name: string, dir: string): Promise<Checkpoint> {
  if (!isCheckpointFolder(dir)) throw new CliError(`${dir} is not a checkpoint folder (no config.json)`);
  let config;
  try {
    config = readConfig(join(dir, "config.json"));
  } catch (err) {
    if (err instanceof ModelError) throw new CliError(err.message);
    throw err;
  }
  try {
    return await registerCheckpoint(prisma, name, dir, {
      architecture: config.modelType === "bert" ? "masked" : "causal",
      modelType: config.modelType,
      nLayers: config.nLayers,
      hidden: config.hidden,
      ffnWidth: config.ffnWidth,
      vocabSize: config.vocabSize,
    });
  } catch (err) {
    if (err instanceof CheckpointConflictError) throw new CliError(err.message);
    throw err;
  }
}

/** The demo models are always known by name once their folders exist. */
export async function registerDemoModels(prisma: PrismaClient): Promise<Checkpoint[]> {
  const out: Checkpoint[] = [];
  for (const name of DEMO_MODELS) {
    const dir = join(PROJECT_ROOT, "models", name);
    if (isCheckpointFolder(dir)) out.push(await registerFolder(prisma, name, dir));
  }
  return out;
}

export async function resolveCheckpoint(prisma: PrismaClient, model: string): Promise<Checkpoint> {
  const registered = await findCheckpoint(prisma, model);
  if (registered) return registered;
  if ((DEMO_MODELS as readonly string[]).includes(model) && isCheckpointFolder(join(PROJECT_ROOT, "models", model))) {
    return registerFolder(prisma, model, join(PROJECT_ROOT, "models", model));
  }
  if (isCheckpointFolder(model)) return registerFolder(prisma, basename(model.replace(/\/+$/, "")), model);
  throw new CliError(`unknown model ${JSON.stringify(model)}: not a registered name (kn model list) nor a checkpoint folder`);
}
