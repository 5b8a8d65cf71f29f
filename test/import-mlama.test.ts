// The mLAMA importer against the real test database: idempotence, filters, malformed lines.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { openTestStore, rowCounts, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const SEEDS = join(ROOT, "seeds");
const TABLES = ["language", "relation", "template", "fact", "fact_label", "wrong_object"];
const store = openTestStore();

const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);
const seedFactCount = () =>
  lines(join(SEEDS, "mlama/en/templates.jsonl"))
    .map((l) => JSON.parse(l).relation as string)
    .reduce((n, rel) => n + lines(join(SEEDS, "mlama/en", `${rel}.jsonl`)).length, 0);

function runCli(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: store.url },
    encoding: "utf8",
    timeout: 120_000,
  });
}

beforeAll(async () => truncateAll(store.pool));
afterAll(async () => store.close());

describe("import mlama (seeds)", () => {
  beforeEach(async () => truncateAll(store.pool));

  it("imports every language, relation, template and label, and a second run changes no row count", async () => {
    const first = await importMlama(store.pool, join(SEEDS, "mlama"));
    const wrong = await importWrongObjects(store.pool, join(SEEDS, "wrong-objects"));
    const counts = await rowCounts(store.pool, TABLES);
    const facts = seedFactCount();
    expect(first.problems).toEqual([]);
    expect(wrong.problems).toEqual([]);
    expect(counts.language).toBe(6);
    expect(counts.relation).toBeGreaterThanOrEqual(8);
    expect(counts.fact).toBe(facts);
    expect(counts.fact_label).toBe(6 * facts);
    expect(counts.template).toBe(6 * counts.relation);
    expect(counts.wrong_object).toBeGreaterThanOrEqual(3 * 6 * facts);

    const second = await importMlama(store.pool, join(SEEDS, "mlama"));
    await importWrongObjects(store.pool, join(SEEDS, "wrong-objects"));
    expect(await rowCounts(store.pool, TABLES)).toEqual(counts);
    expect(second.facts.inserted).toBe(0);
    expect(second.labels.inserted + second.labels.updated).toBe(0);
  });

  it("honours --languages and --relations filters", async () => {
    const s = await importMlama(store.pool, join(SEEDS, "mlama"), { languages: ["en", "zh"], relations: ["P17", "P36"] });
    const counts = await rowCounts(store.pool, ["language", "relation", "template", "fact"]);
    expect(counts).toMatchObject({ language: 2, relation: 2, template: 4 });
    const p17 = lines(join(SEEDS, "mlama/en/P17.jsonl")).length + lines(join(SEEDS, "mlama/en/P36.jsonl")).length;
    expect(counts.fact).toBe(p17);
    expect(s.labels.inserted).toBe(2 * p17);
  });

  it("rejects an unknown language folder with a clear error", async () => {
    await expect(importMlama(store.pool, join(SEEDS, "mlama"), { languages: ["xx"] })).rejects.toThrow(/language folder\(s\) not found.*xx/);
  });
});

describe("import mlama with malformed lines", () => {
  let dir: string;

  beforeAll(async () => {
    await truncateAll(store.pool);
    dir = mkdtempSync(join(tmpdir(), "kn-mlama-"));
    cpSync(join(SEEDS, "mlama/en/templates.jsonl"), join(dir, "en/templates.jsonl"), { recursive: true });
    const good = lines(join(SEEDS, "mlama/en/P36.jsonl"));
    const bad = [
      good[0],
      "{not json",
      JSON.stringify({ ...JSON.parse(good[1]), obj_label: "" }),
      good[2],
      JSON.stringify({ uuid: "x-1", sub_uri: "Q1", obj_uri: "Q2", sub_label: "A" }),
      good[3],
    ];
    writeFileSync(join(dir, "en/P36.jsonl"), `${bad.join("\n")}\n`);
    writeFileSync(join(dir, "en/templates.jsonl"), `${readFileSync(join(dir, "en/templates.jsonl"), "utf8")}{"relation": "P999", "template": "no slots"}\n`);
  });

  it("reports each bad line as file:line with the reason, skips it and imports the rest", async () => {
    const s = await importMlama(store.pool, dir);
    const file = join(dir, "en/P36.jsonl");
    expect(s.problems).toEqual(
      expect.arrayContaining([
        { file, line: 2, reason: expect.stringMatching(/invalid JSON/) },
        { file, line: 3, reason: 'field "obj_label" is empty' },
        { file, line: 5, reason: 'missing field "obj_label"' },
        { file: join(dir, "en/templates.jsonl"), line: expect.any(Number), reason: expect.stringMatching(/\[X\] exactly once/) },
      ]),
    );
    expect(s.problems).toHaveLength(4);
    expect((await rowCounts(store.pool, ["fact"])).fact).toBe(3);
  });

  it("keeps what is stored when a re-import brings a uuid under another relation", async () => {
    const before = await store.pool.query("SELECT * FROM fact_label ORDER BY fact_id");
    const clash = JSON.parse(lines(join(dir, "en/P36.jsonl"))[0]);
    const other = mkdtempSync(join(tmpdir(), "kn-mlama-"));
    cpSync(join(SEEDS, "mlama/en/templates.jsonl"), join(other, "en/templates.jsonl"));
    writeFileSync(join(other, "en/P17.jsonl"), `${JSON.stringify({ ...clash, sub_label: "Changed", predicate_id: "P17" })}\n`);
    const s = await importMlama(store.pool, other);
    expect(s.problems).toEqual([{ file: join(other, "en/P17.jsonl"), line: 1, reason: `uuid ${clash.uuid} is already stored for relation P36` }]);
    expect((await store.pool.query("SELECT * FROM fact_label ORDER BY fact_id")).rows).toEqual(before.rows);
  });

  it("the CLI prints file:line reasons on stderr and the count in its summary", () => {
    const r = runCli(["import", "mlama", dir, "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${join(dir, "en/P36.jsonl")}:2: invalid JSON`);
    expect(r.stderr).toContain(`${join(dir, "en/P36.jsonl")}:3: field "obj_label" is empty (line skipped)`);
    expect(r.stdout).toMatch(/malformed lines skipped: 4/);
  });

  it("the CLI exits with code 2 and a message for a folder that does not exist", () => {
    const r = runCli(["import", "mlama", join(dir, "nope"), "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/kn: not a directory: .*nope/);
  });
});
