// The mLAMA importer against the real test database: idempotence, filters, malformed lines.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fillTemplate } from "../src/data/templates.ts";
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

describe("import mlama: rules for real mLAMA", () => {
  let dir: string;
  const TRADITIONAL = { uuid: "zh-t-1", sub_uri: "Q865", obj_uri: "Q1867", sub_label: "臺灣", obj_label: "臺北" };
  const SIMPLIFIED = { uuid: "zh-s-1", sub_uri: "Q142", obj_uri: "Q90", sub_label: "法国", obj_label: "巴黎" };
  const DOLLARS = { uuid: "en-d-1", sub_uri: "Q1", obj_uri: "Q2", sub_label: "A$&B $1 $$ $'", obj_label: "$`Town" };

  beforeAll(async () => {
    await truncateAll(store.pool);
    dir = mkdtempSync(join(tmpdir(), "kn-mlama-real-"));
    const write = (file: string, rows: object[]) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    };
    write("en/templates.jsonl", [{ relation: "P19", template: "[X] was born in [Y] ." }]);
    write("zh/templates.jsonl", [{ relation: "P36", template: "[X]的首都是[Y]。" }]);
    write("zh/P36.jsonl", [TRADITIONAL, SIMPLIFIED]);
    write("de/templates.jsonl", [
      { relation: "P19", template: "[X] wurde in [Y] geboren ." },
      { relation: "P20", template: "[X] ist in [Y] gestorben ." },
      { relation: "P20", template: "[X] starb in [Y] ." },
      { relation: "P36", template: "Die Hauptstadt von [X] ist [Y] ." },
    ]);
    write("de/P19.jsonl", [{ ...SIMPLIFIED, uuid: "de-19-1", sub_label: "Goethe" }, { ...SIMPLIFIED, uuid: "de-19-2", sub_label: "Schiller" }]);
    write("de/P20.jsonl", [{ ...SIMPLIFIED, uuid: "de-20-1", sub_label: "Kant" }]);
    write("de/P36.jsonl", [{ ...SIMPLIFIED, uuid: "de-36-1", sub_label: "Frankreich", obj_label: "Paris" }]);
    write("en/P19.jsonl", [DOLLARS]);
  });

  it("converts zh lines from traditional to simplified characters and counts them", async () => {
    const s = await importMlama(store.pool, dir);
    expect(s.problems).toEqual([]);
    // zh: 1 template line + 2 fact lines read, of which the traditional one changed
    expect(s.simplified).toEqual({ lines: 3, converted: 1 });
    const { rows } = await store.pool.query(`SELECT fact_id, subject, object FROM fact_label WHERE language_code = 'zh' ORDER BY fact_id`);
    expect(rows).toEqual([
      { fact_id: "zh-s-1", subject: "法国", object: "巴黎" },
      { fact_id: "zh-t-1", subject: "台湾", object: "台北" },
    ]);
  });

  it("counts templates whose object slot is not final, per relation and language", async () => {
    const s = await importMlama(store.pool, dir);
    expect(s.objectSlotNotFinal).toEqual([
      { language: "de", relation: "P19", templates: 1, nonFinal: 1, facts: 2, noCausalTemplate: true },
      { language: "de", relation: "P20", templates: 2, nonFinal: 1, facts: 1, noCausalTemplate: false },
    ]);
  });

  it("stores labels with $ patterns literally, and prompts keep them", async () => {
    await importMlama(store.pool, dir);
    const { rows } = await store.pool.query(
      `SELECT fl.subject, fl.object, t.text FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
       JOIN template t ON t.relation_id = f.relation_id AND t.language_code = fl.language_code WHERE fl.fact_id = 'en-d-1'`,
    );
    expect(rows[0]).toMatchObject({ subject: DOLLARS.sub_label, object: DOLLARS.obj_label });
    expect(fillTemplate(rows[0].text, rows[0].subject, rows[0].object)).toBe(fillTemplate("[X] was born in [Y] .", DOLLARS.sub_label, DOLLARS.obj_label));
    expect(fillTemplate(rows[0].text, rows[0].subject)).toContain("A$&B $1 $$ $'");
  });

  it("the CLI reports both in its summary", () => {
    const r = runCli(["import", "mlama", dir, "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("zh lines converted from traditional to simplified characters (OpenCC t2s): 1 of 3");
    expect(r.stdout).toContain("de P19: 1 of 1 template(s); no causal prompt for its 2 facts");
    expect(r.stdout).toContain("de P20: 1 of 2 template(s); 1 other template(s) serve causal models");
  });

  it("the seeds are simplified already: converting them changes nothing", async () => {
    const s = await importMlama(store.pool, join(SEEDS, "mlama"), { languages: ["zh"] });
    expect(s.simplified.lines).toBeGreaterThan(500);
    expect(s.simplified.converted).toBe(0);
    expect(s.objectSlotNotFinal).toEqual([]);
  });
});
