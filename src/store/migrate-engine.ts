// Drives Prisma's schema engine offline: the WebAssembly build (@prisma/schema-engine-wasm, the same
// engine as the native binary the CLI cannot download here) runs in-process and reaches PostgreSQL
// through @prisma/adapter-pg. Three snags of adapter-pg 7.10.1 are worked around here:
//   - the engine's catalog queries return PostgreSQL "char" columns (OID 18), which adapter-pg
//     refuses to deserialize: the fields are relabelled as text before it sees them, and the column
//     type it reports is then set to Character, as the native engine sees them (reporting them as
//     Text breaks the schema describer on PostgreSQL 18, whose NOT NULL constraints appear in
//     pg_constraint: "Getting constraint_type ... as char failed");
//   - adapter-pg runs scripts by splitting them on ";" (breaks on a ";" inside a string, a comment or
//     a function body): scripts go to the server whole, as one simple query, like the native engine;
//   - its shadow-database handling is broken (the connection string overrides the shadow database
//     name; it drops the database before closing its pool): shadow databases are created and dropped
//     here, and any the engine leaves behind are dropped when the engine is closed.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  ColumnTypeEnum,
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlResultSet,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import type * as Wasm from "@prisma/schema-engine-wasm";

/** The project root (two levels above src/store). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SCHEMA_PATH = path.join(PROJECT_ROOT, "prisma", "schema.prisma");
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "prisma", "migrations");
export const DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test";

export type SchemaEngine = Wasm.SchemaEngine;
export type MigrationList = Wasm.MigrationList;
export type SchemaFilter = Wasm.SchemaFilter;

export const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

// ---------------------------------------------------------------------------------------------
// Loading the WebAssembly module (once per process).

type WasmModule = typeof Wasm;
interface WebAssemblyApi {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
let wasmModule: Promise<WasmModule> | undefined;

/**
 * The package's entry point imports the .wasm file as an ES module, which Node 20 cannot do without
 * --experimental-wasm-modules: instantiate it by hand against the package's JS glue instead.
 */
export function loadSchemaEngineWasm(): Promise<WasmModule> {
  wasmModule ??= (async () => {
    const require = createRequire(import.meta.url);
    const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const wasmPath = path.join(path.dirname(gluePath), "schema_engine_bg.wasm");
    const glue = (await import(pathToFileURL(gluePath).href)) as WasmModule & { __wbg_set_wasm(exports: unknown): void };
    // The tsconfig's libs carry no WebAssembly types: the few used here.
    const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
    const { instance } = await webAssembly.instantiate(readFileSync(wasmPath), { "./schema_engine_bg.js": glue });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue;
  })();
  wasmModule.catch(() => {
    wasmModule = undefined;
  });
  return wasmModule;
}

// ---------------------------------------------------------------------------------------------
// Database URLs and small helpers.

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/** The database name of a postgres URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!name) throw new Error(`database URL names no database: ${redactUrl(url)}`);
  return name;
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(database);
  return u.toString();
}

/** A URL fit for logs: the password is masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid database URL>";
  }
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Runs fn with a single connection to the maintenance database ("postgres") of the server. */
export async function withMaintenanceClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  let client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  try {
    await client.connect();
  } catch (error) {
    // Servers without a "postgres" database: fall back to template1.
    await client.end().catch(() => undefined);
    if ((error as { code?: string }).code !== "3D000") throw error;
    client = new pg.Client({ connectionString: withDatabase(url, "template1") });
    await client.connect();
  }
  client.on("error", () => undefined);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates the database of url unless it exists. Returns true when it was created. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withMaintenanceClient(url, async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return true;
    } catch (error) {
      // Another process created it in between (42P04, or 23505 when both raced in the catalog).
      const code = (error as { code?: string }).code;
      if (code === "42P04" || code === "23505") return false;
      throw error;
    }
  });
}

/** Whether the database of url exists on its server. */
export async function databaseExists(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withMaintenanceClient(url, async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    return (rowCount ?? 0) > 0;
  });
}

/** Drops a database (terminating its connections). */
export async function dropDatabase(url: string, name = databaseName(url)): Promise<void> {
  await withMaintenanceClient(url, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
}

// ---------------------------------------------------------------------------------------------
// The driver adapter given to the engine.

/** Row arrays of results that had "char" columns -> the indexes of those columns. */
const charColumnsOfRows = new WeakMap<object, number[]>();

function relabelCharFields(result: unknown): unknown {
  const results = Array.isArray(result) ? result : [result];
  for (const r of results) {
    const res = r as pg.QueryResult | undefined;
    if (!res?.fields) continue;
    const indexes: number[] = [];
    res.fields.forEach((field, i) => {
      if (field.dataTypeID === PG_CHAR_OID) {
        field.dataTypeID = PG_TEXT_OID;
        indexes.push(i);
      }
    });
    if (indexes.length && res.rows) charColumnsOfRows.set(res.rows, indexes);
  }
  return result;
}

/** Restores the Character column type of the "char" columns relabelled above. */
function restoreCharColumns(result: SqlResultSet): SqlResultSet {
  const indexes = charColumnsOfRows.get(result.rows);
  if (indexes) for (const i of indexes) result.columnTypes[i] = ColumnTypeEnum.Character;
  return result;
}

/**
 * A pg client whose results never carry the "char" type (OID 18), which adapter-pg rejects: its
 * values are single-character strings already (pg's text parser), so the fields are labelled text;
 * restoreCharColumns() then reports those columns to the engine as Character.
 */
class CharAsTextClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [config] = args;
    // Submittables (cursors, COPY streams) are passed through untouched.
    if (config && typeof config === "object" && typeof config.submit === "function") {
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const callback = args[last] as (err: Error | null, res: unknown) => void;
      args[last] = (err: Error | null, res: unknown) => callback(err, err ? res : relabelCharFields(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    return ((super.query as (...a: unknown[]) => Promise<unknown>)(...args)).then(relabelCharFields);
  }
}

function enginePool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, Client: CharAsTextClient, max: 4 });
  pool.on("error", () => undefined);
  return pool;
}

/** Wraps an adapter-pg adapter: scripts are sent whole; dispose() runs `after` once done. */
function patchAdapter(adapter: SqlDriverAdapter, pool: pg.Pool, after?: () => Promise<void>): SqlDriverAdapter {
  const original = adapter.dispose.bind(adapter);
  const onError = (adapter as unknown as { onError(e: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (error) {
      onError(error);
    }
  };
  const queryRaw = adapter.queryRaw.bind(adapter);
  adapter.queryRaw = async (query) => restoreCharColumns(await queryRaw(query));
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) => {
    const tx = await startTransaction(isolationLevel);
    const txQueryRaw = tx.queryRaw.bind(tx);
    tx.queryRaw = async (query) => restoreCharColumns(await txQueryRaw(query));
    return tx;
  };
  let disposed = false;
  adapter.dispose = async () => {
    if (disposed) return;
    disposed = true;
    await original();
    await after?.();
  };
  return adapter;
}

class EngineAdapterFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = "postgres" as const;
  readonly adapterName = "@prisma/adapter-pg";
  readonly shadowDatabases = new Set<string>();
  readonly adapters = new Set<SqlDriverAdapter>();

  constructor(
    private readonly url: string,
    private readonly shadowUrl: string | undefined,
  ) {}

  async connect(): Promise<SqlDriverAdapter> {
    const pool = enginePool(this.url);
    const adapter = patchAdapter(await new PrismaPg(pool, { disposeExternalPool: true }).connect(), pool);
    this.track(adapter);
    return adapter;
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    // The shadow database lives on the server of shadowUrl (default: the main server).
    const server = this.shadowUrl ?? this.url;
    const name = `prisma_shadow_${process.pid}_${randomBytes(4).toString("hex")}`;
    await withMaintenanceClient(server, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
    this.shadowDatabases.add(name);
    if (process.env.KN_ENGINE_DEBUG) console.error(`[schema-engine] shadow database ${name} created`);
    const pool = enginePool(withDatabase(server, name));
    const adapter = patchAdapter(await new PrismaPg(pool, { disposeExternalPool: true }).connect(), pool, async () => {
      await dropDatabase(server, name);
      this.shadowDatabases.delete(name);
    });
    this.track(adapter);
    return adapter;
  }

  private track(adapter: SqlDriverAdapter): void {
    this.adapters.add(adapter);
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      this.adapters.delete(adapter);
      await dispose();
    };
  }

  /** Closes every pool the engine left open and drops leftover shadow databases. */
  async cleanup(): Promise<void> {
    for (const adapter of [...this.adapters]) await adapter.dispose().catch(() => undefined);
    const server = this.shadowUrl ?? this.url;
    for (const name of [...this.shadowDatabases]) {
      await dropDatabase(server, name).catch(() => undefined);
      this.shadowDatabases.delete(name);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Engine sessions.

export interface EngineOptions {
  /** Prisma schema files given to the engine at construction; default: prisma/schema.prisma. */
  schema?: { path: string; content: string }[];
  /** Server on which shadow databases are created; default: the server of the main URL. */
  shadowServerUrl?: string;
  /** Receives the engine's log lines (JSON strings). */
  log?: (line: string) => void;
}

export function readSchemaFiles(schemaPath = SCHEMA_PATH): { path: string; content: string }[] {
  return [{ path: schemaPath, content: readFileSync(schemaPath, "utf8") }];
}

/** Wraps an engine error (a JSON-RPC error object, a string or an Error) into an Error. */
export function engineError(method: string, error: unknown): Error {
  if (error instanceof Error) {
    error.message = `schema engine ${method}: ${error.message}`;
    return error;
  }
  let message: string;
  if (typeof error === "string") message = error;
  else {
    const e = error as { message?: string; meta?: { message?: string }; error_code?: string } | undefined;
    message = e?.meta?.message ?? e?.message ?? JSON.stringify(error);
    if (e?.error_code) message = `${e.error_code}: ${message}`;
  }
  const wrapped = new Error(`schema engine ${method}: ${message}`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}

/**
 * Runs fn with a schema engine connected to url; pools and shadow databases are cleaned up after.
 * Every engine call made through the `call` helper gets a readable error.
 */
export async function withSchemaEngine<T>(
  url: string,
  fn: (engine: SchemaEngine) => Promise<T>,
  options: EngineOptions = {},
): Promise<T> {
  const wasm = await loadSchemaEngineWasm();
  const factory = new EngineAdapterFactory(url, options.shadowServerUrl);
  const schema = options.schema ?? (existsSync(SCHEMA_PATH) ? readSchemaFiles() : undefined);
  const log = options.log ?? (process.env.KN_ENGINE_DEBUG ? (line: string) => console.error(`[schema-engine] ${line}`) : () => undefined);
  let engine: SchemaEngine | undefined;
  try {
    engine = await wasm.SchemaEngine.new(
      { datamodels: schema?.map((f) => [f.path, f.content] as [string, string]) },
      (line: string) => log(line),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
  } catch (error) {
    await factory.cleanup();
    throw engineError("start", error);
  }
  try {
    return await fn(wrapEngine(engine));
  } finally {
    try {
      engine.free();
    } catch {
      // already freed
    }
    await factory.cleanup();
  }
}

/** A proxy that turns the engine's rejections (plain JSON objects) into Errors naming the method. */
function wrapEngine(engine: SchemaEngine): SchemaEngine {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) return result.catch((e: unknown) => Promise.reject(engineError(String(prop), e)));
        return result;
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The migrations directory.

export interface LocalMigration {
  name: string;
  path: string;
  sql: string;
  checksum: string;
}

/** The committed migrations, oldest first: prisma/migrations/<name>/migration.sql. */
export function listMigrations(dir = MIGRATIONS_DIR): LocalMigration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory() && existsSync(path.join(dir, name, "migration.sql")))
    .sort()
    .map((name) => {
      const file = path.join(dir, name, "migration.sql");
      const sql = readFileSync(file, "utf8");
      return { name, path: file, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/** prisma/migrations/migration_lock.toml as Prisma writes it. */
export const MIGRATION_LOCK =
  "# Please do not edit this file manually\n" +
  "# It should be added in your version-control system (e.g., Git)\n" +
  'provider = "postgresql"\n';

/** The migrations directory in the form the engine takes. */
export function migrationList(dir = MIGRATIONS_DIR): MigrationList {
  const lockPath = path.join(dir, "migration_lock.toml");
  return {
    baseDir: dir,
    // The engine reads the provider from the lock file; a directory without one (no migration yet)
    // gets the file Prisma would write.
    lockfile: { path: lockPath, content: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : MIGRATION_LOCK },
    shadowDbInitScript: "",
    migrationDirectories: listMigrations(dir).map((m) => ({
      path: m.name,
      migrationFile: { path: "migration.sql", content: { tag: "ok", value: m.sql } },
    })),
  };
}
