// Applies the committed migrations (prisma/migrations/*/migration.sql) through Prisma's schema engine,
// run in-process as WebAssembly (see migrate-engine.ts): the same bookkeeping as `prisma migrate
// deploy` (_prisma_migrations with checksums), no native engine binary and no network needed.
import pg from "pg";
import {
  MIGRATIONS_DIR,
  NO_FILTER,
  databaseExists,
  ensureDatabase,
  listMigrations,
  migrationList,
  readSchemaFiles,
  redactUrl,
  withSchemaEngine,
  type SchemaEngine,
} from "./migrate-engine.ts";

export {
  DEFAULT_DATABASE_URL,
  MIGRATIONS_DIR,
  SCHEMA_PATH,
  databaseExists,
  databaseName,
  dropDatabase,
  ensureDatabase,
  listMigrations,
  withDatabase,
  withSchemaEngine,
} from "./migrate-engine.ts";

/** Session-level advisory lock key held while migrating ("kn-migr" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6b6e2d6d696772n;

export interface ApplyMigrationsOptions {
  /** Migrations directory; default prisma/migrations. */
  migrationsDir?: string;
  /** Create the database when it does not exist (default true). */
  createDatabase?: boolean;
}

/**
 * Applies the pending migrations to the database of databaseUrl and returns the names applied
 * (empty when it was up to date). Idempotent; concurrent callers serialize on an advisory lock, so
 * two processes starting at once apply each migration once. Throws when a migration fails, when a
 * migration already applied was edited, or when the database has a failed migration.
 */
export async function applyMigrations(databaseUrl: string, options: ApplyMigrationsOptions = {}): Promise<string[]> {
  const dir = options.migrationsDir ?? MIGRATIONS_DIR;
  if (options.createDatabase !== false) await ensureDatabase(databaseUrl);
  return withMigrationLock(databaseUrl, () =>
    withSchemaEngine(databaseUrl, async (engine) => {
      const list = migrationList(dir);
      if (list.migrationDirectories.length === 0) return [];
      const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList: list, filters: NO_FILTER });
      return appliedMigrationNames;
    }),
  );
}

export interface MigrationStatus {
  /** Migrations of the directory, oldest first. */
  local: string[];
  /** Migrations recorded as applied in _prisma_migrations (finished, not rolled back). */
  applied: string[];
  /** Local migrations not yet applied. */
  pending: string[];
  /** Migrations that failed (started, never finished, not rolled back). */
  failed: string[];
  /** Applied migrations whose file changed since. */
  edited: string[];
  /** Applied migrations missing from the directory. */
  unknown: string[];
  hasMigrationsTable: boolean;
  databaseExists: boolean;
  /** True when nothing is pending, failed, edited or unknown. */
  upToDate: boolean;
}

/** Compares the migrations directory with the database's _prisma_migrations (read only). */
export async function migrationStatus(databaseUrl: string, options: { migrationsDir?: string } = {}): Promise<MigrationStatus> {
  const dir = options.migrationsDir ?? MIGRATIONS_DIR;
  const local = listMigrations(dir).map((m) => m.name);
  if (!(await databaseExists(databaseUrl))) {
    return { local, applied: [], pending: local, failed: [], edited: [], unknown: [], hasMigrationsTable: false, databaseExists: false, upToDate: local.length === 0 };
  }
  const diagnosis = await withSchemaEngine(databaseUrl, (engine) =>
    engine.diagnoseMigrationHistory({ migrationsList: migrationList(dir), optInToShadowDatabase: false, filters: NO_FILTER }),
  );
  let applied: string[] = [];
  if (diagnosis.hasMigrationsTable) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ migration_name: string }>(
        `SELECT migration_name FROM _prisma_migrations
          WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY started_at, migration_name`,
      );
      applied = [...new Set(rows.map((r) => r.migration_name))];
    } finally {
      await client.end();
    }
  }
  const appliedSet = new Set(applied);
  const localSet = new Set(local);
  const pending = local.filter((name) => !appliedSet.has(name));
  const unknown = applied.filter((name) => !localSet.has(name));
  const { failedMigrationNames: failed, editedMigrationNames: edited } = diagnosis;
  return {
    local,
    applied,
    pending,
    failed,
    edited,
    unknown,
    hasMigrationsTable: diagnosis.hasMigrationsTable,
    databaseExists: true,
    upToDate: pending.length === 0 && failed.length === 0 && edited.length === 0 && unknown.length === 0,
  };
}

export interface SchemaDiffOptions {
  migrationsDir?: string;
  /** Prisma schema to compare with; default prisma/schema.prisma. */
  schema?: { path: string; content: string }[];
  /** A database URL on the server where the engine's shadow database is created. */
  shadowServerUrl?: string;
}

/**
 * The SQL that brings a database built from the migrations to the Prisma schema, or null when they
 * agree. Replays the migrations in a shadow database (created and dropped on the server of
 * databaseUrl); databaseUrl's own database is not touched.
 */
export async function diffMigrationsToSchema(databaseUrl: string, options: SchemaDiffOptions = {}): Promise<string | null> {
  const dir = options.migrationsDir ?? MIGRATIONS_DIR;
  const files = options.schema ?? readSchemaFiles();
  return withSchemaEngine(
    databaseUrl,
    async (engine: SchemaEngine) => {
      const result = await engine.diff({
        from: { tag: "migrations", ...migrationList(dir) },
        to: { tag: "schemaDatamodel", files },
        script: true,
        exitCode: true,
        filters: NO_FILTER,
      });
      // exitCode: 0 = no difference, 2 = a difference; stdout is the script.
      if (result.exitCode === 0) return null;
      if (result.exitCode !== 2 || result.stdout == null) {
        throw new Error(`schema engine diff: unexpected result ${JSON.stringify(result)}`);
      }
      return result.stdout;
    },
    { schema: files, shadowServerUrl: options.shadowServerUrl },
  );
}

/** Runs fn while holding the migration advisory lock on the database of databaseUrl. */
export async function withMigrationLock<T>(databaseUrl: string, fn: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect to ${redactUrl(databaseUrl)}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
    try {
      return await fn();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
