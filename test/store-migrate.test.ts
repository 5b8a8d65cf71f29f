// Migrations through the WebAssembly schema engine: applied to empty databases, idempotent,
// recorded in _prisma_migrations, safe under concurrency, and the engine really diffs.
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATION_LOCK } from "../src/store/migrate-engine.ts";
import {
  MIGRATIONS_DIR,
  SCHEMA_PATH,
  applyMigrations,
  diffMigrationsToSchema,
  listMigrations,
  migrationStatus,
} from "../src/store/migrate.ts";
import { createScratchDatabase, createTestPool, createTestPrisma, listTables, testDatabaseUrl, truncateAll, withClient, type ScratchDatabase } from "./helpers/db.ts";

const schemaText = readFileSync(SCHEMA_PATH, "utf8");

/** Table names of the schema's models (@@map, else the model name). */
function schemaTables(schema: string): string[] {
  const tables: string[] = [];
  for (const m of schema.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const map = /@@map\("([^"]+)"\)/.exec(m[2]!);
    tables.push(map ? map[1]! : m[1]!);
  }
  return tables.sort();
}

function schemaEnums(schema: string): string[] {
  const enums: string[] = [];
  for (const m of schema.matchAll(/^enum\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const map = /@@map\("([^"]+)"\)/.exec(m[2]!);
    enums.push(map ? map[1]! : m[1]!);
  }
  return enums.sort();
}

async function shadowDatabasesLeft(url: string): Promise<string[]> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1", [`prisma_shadow_${process.pid}_%`]);
    return rows.map((r) => r.datname);
  }, url);
}

const scratches: ScratchDatabase[] = [];
async function scratch(prefix: string): Promise<ScratchDatabase> {
  const db = await createScratchDatabase(prefix);
  scratches.push(db);
  return db;
}

afterAll(async () => {
  for (const db of scratches) await db.drop();
});

describe("the committed migrations", () => {
  const local = listMigrations();

  it("exist and match the schema's models", () => {
    expect(local.length).toBeGreaterThan(0);
    expect(local[0]!.name).toMatch(/^\d{14}_init$/);
    expect(readFileSync(path.join(MIGRATIONS_DIR, "migration_lock.toml"), "utf8")).toContain('provider = "postgresql"');
  });

  it("create every table and enum of the schema on an empty database", async () => {
    const db = await scratch("migrate_empty");
    expect(await listTables(db.url)).toEqual([]);
    const before = await migrationStatus(db.url);
    expect(before.pending).toEqual(local.map((m) => m.name));
    expect(before.hasMigrationsTable).toBe(false);

    const applied = await applyMigrations(db.url);
    expect(applied).toEqual(local.map((m) => m.name));

    const tables = schemaTables(schemaText);
    expect(tables.length).toBeGreaterThan(10);
    expect(await listTables(db.url)).toEqual(tables);
    const enums = await withClient(async (c) => {
      const { rows } = await c.query<{ typname: string }>(
        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e' ORDER BY 1",
      );
      return rows.map((r) => r.typname);
    }, db.url);
    expect(enums).toEqual(schemaEnums(schemaText));

    // Applying again is a no-op.
    expect(await applyMigrations(db.url)).toEqual([]);

    // _prisma_migrations has one finished row per migration, with the file's sha256.
    const rows = await withClient(async (c) => {
      const r = await c.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null; applied_steps_count: number }>(
        "SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name",
      );
      return r.rows;
    }, db.url);
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    for (const [i, row] of rows.entries()) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.checksum).toBe(local[i]!.checksum);
    }

    const status = await migrationStatus(db.url);
    expect(status).toMatchObject({ pending: [], failed: [], edited: [], unknown: [], upToDate: true, hasMigrationsTable: true });
  });

  it("are applied once when several processes start at the same time", async () => {
    const db = await scratch("migrate_race");
    const results = await Promise.all([applyMigrations(db.url), applyMigrations(db.url), applyMigrations(db.url), applyMigrations(db.url)]);
    const names = local.map((m) => m.name);
    expect(results.filter((r) => r.length > 0)).toEqual([names]);
    const count = await withClient(async (c) => (await c.query("SELECT count(*)::int AS n FROM _prisma_migrations")).rows[0].n as number, db.url);
    expect(count).toBe(names.length);
  });

  it("create the database when it does not exist", async () => {
    const db = await scratch("migrate_create");
    await db.drop();
    expect((await migrationStatus(db.url)).databaseExists).toBe(false);
    expect(await applyMigrations(db.url)).toEqual(local.map((m) => m.name));
    expect(await listTables(db.url)).toEqual(schemaTables(schemaText));
  });

  it("are in place in the run's test database, which the Prisma client and pg pool can use", async () => {
    expect((await migrationStatus(testDatabaseUrl())).upToDate).toBe(true);
    const prisma = createTestPrisma();
    const pool = createTestPool();
    try {
      await prisma.language.create({ data: { code: "xx", name: "Test language" } });
      expect(await prisma.language.findUnique({ where: { code: "xx" } })).toMatchObject({ code: "xx", name: "Test language" });
      const { rows } = await pool.query("SELECT name FROM language WHERE code = ANY($1::text[])", [["xx"]]);
      expect(rows).toEqual([{ name: "Test language" }]);
      await truncateAll({ tables: ["language"] });
      expect(await prisma.language.count()).toBe(0);
    } finally {
      await prisma.$disconnect();
      await pool.end();
    }
  });
});

describe("the schema engine (WebAssembly, in-process)", () => {
  it("finds no difference between prisma/schema.prisma and the migrations", async () => {
    expect(await diffMigrationsToSchema(testDatabaseUrl())).toBeNull();
    expect(await shadowDatabasesLeft(testDatabaseUrl())).toEqual([]);
  });

  it("finds the difference of a changed schema", async () => {
    // A new model and a new column.
    const changed = schemaText + '\nmodel ProbeTable {\n  id    Int    @id\n  label String\n\n  @@map("probe_table")\n}\n';
    const withColumn = changed.replace(/(model Language \{\n\s*code String @id[^\n]*\n)/, "$1  probeColumn Int? @map(\"probe_column\")\n");
    expect(withColumn).not.toBe(changed);
    const script = await diffMigrationsToSchema(testDatabaseUrl(), { schema: [{ path: SCHEMA_PATH, content: withColumn }] });
    expect(script).not.toBeNull();
    expect(script).toContain('CREATE TABLE "probe_table"');
    expect(script).toMatch(/ALTER TABLE "language" ADD COLUMN\s+"probe_column" INTEGER/);
    expect(script).not.toContain('CREATE TABLE "checkpoint"');
    expect(await shadowDatabasesLeft(testDatabaseUrl())).toEqual([]);
  });

  it("reports an unreachable server as an error instead of an empty result", async () => {
    await expect(diffMigrationsToSchema("postgresql://postgres@127.0.0.1:1/none")).rejects.toThrow(/schema engine/);
  });
});

describe("applyMigrations on a hand-written migrations directory", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kn-migrations-"));
    writeFileSync(path.join(dir, "migration_lock.toml"), MIGRATION_LOCK);
    mkdirSync(path.join(dir, "20000101000000_first"));
    // Semicolons inside a string, a comment and a function body: the script must reach the server whole.
    writeFileSync(
      path.join(dir, "20000101000000_first", "migration.sql"),
      [
        "-- a comment; with a semicolon",
        "CREATE TABLE note (id INT PRIMARY KEY, body TEXT NOT NULL);",
        "INSERT INTO note VALUES (1, 'a; b; c');",
        "CREATE FUNCTION note_count() RETURNS INT LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(*) FROM note); END; $$;",
        "",
      ].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs scripts whole, records failures, and detects edited migrations", async () => {
    const db = await scratch("migrate_custom");
    expect(await applyMigrations(db.url, { migrationsDir: dir })).toEqual(["20000101000000_first"]);
    const row = await withClient(async (c) => (await c.query("SELECT body, note_count() AS n FROM note")).rows[0], db.url);
    expect(row).toEqual({ body: "a; b; c", n: 1 });

    // A failing migration: an error, recorded as failed, and the database is left as it was.
    mkdirSync(path.join(dir, "20000102000000_broken"));
    writeFileSync(path.join(dir, "20000102000000_broken", "migration.sql"), "CREATE TABLE other (id INT);\nSELECT no_such_function();\n");
    await expect(applyMigrations(db.url, { migrationsDir: dir })).rejects.toThrow(/no_such_function/);
    const status = await migrationStatus(db.url, { migrationsDir: dir });
    expect(status.failed).toEqual(["20000102000000_broken"]);
    expect(status.upToDate).toBe(false);
    expect(await listTables(db.url)).toEqual(["note"]);

    // Editing an applied migration is detected.
    writeFileSync(path.join(dir, "20000101000000_first", "migration.sql"), "-- edited\n" + readFileSync(path.join(dir, "20000101000000_first", "migration.sql"), "utf8"));
    const edited = await migrationStatus(db.url, { migrationsDir: dir });
    expect(edited.edited).toEqual(["20000101000000_first"]);
    const checksum = createHash("sha256").update(readFileSync(path.join(dir, "20000101000000_first", "migration.sql"))).digest("hex");
    expect(listMigrations(dir)[0]!.checksum).toBe(checksum);
  });
});
