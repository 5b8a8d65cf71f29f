// Turns the --model argument into a checkpoint folder. Today: an existing folder, else
// models/<name> under the project root. Other sources (the database's model registry) plug in
// with registerModelResolver.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ModelError } from "./errors.ts";

/** Returns a folder for `name`, or undefined to let the next resolver try. */
export type ModelResolver = (name: string) => string | undefined;

/** The repository root (this file is src/model/resolve.ts), whatever the working directory. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const isDir = (p: string) => fs.existsSync(p) && fs.statSync(p).isDirectory();

const resolvers: ModelResolver[] = [
  (name) => (isDir(name) ? path.resolve(name) : undefined),
  (name) => {
    const candidate = path.join(PROJECT_ROOT, "models", name);
    return isDir(candidate) ? candidate : undefined;
  },
];

/** Later registrations are tried after the built-in ones. */
export function registerModelResolver(resolver: ModelResolver): void {
  resolvers.push(resolver);
}

export function resolveModelDir(name: string): string {
  if (!name.trim()) throw new ModelError("missing-file", "no model given");
  for (const resolve of resolvers) {
    const dir = resolve(name);
    if (dir !== undefined) return dir;
  }
  throw new ModelError(
    "missing-file",
    `unknown model ${JSON.stringify(name)}: it is not a folder, and ${path.join(PROJECT_ROOT, "models", name)} does not exist`,
  );
}
