// Databases at an earlier migration, for the tests that a migration carries existing rows over.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MIGRATION_LOCK } from "../../src/store/migrate-engine.ts";
import { MIGRATIONS_DIR, listMigrations } from "../../src/store/migrate.ts";

/** The migration whose name ends with `suffix`. */
export function migrationNamed(suffix: string) {
  const m = listMigrations().find((m) => m.name.endsWith(suffix));
  if (!m) throw new Error(`no migration *${suffix}`);
  return m;
}

/** A temporary migrations folder holding the migrations before `name` (remove it when done). */
export function migrationsBefore(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "kn-migrations-before-"));
  writeFileSync(path.join(dir, "migration_lock.toml"), MIGRATION_LOCK);
  for (const m of listMigrations().filter((m) => m.name < name)) cpSync(path.join(MIGRATIONS_DIR, m.name), path.join(dir, m.name), { recursive: true });
  return dir;
}

/** The names of the migrations from `name` on, in the order they are applied. */
export const migrationsFrom = (name: string) => listMigrations().filter((m) => m.name >= name).map((m) => m.name);
