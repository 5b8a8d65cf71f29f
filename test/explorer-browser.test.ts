// The web explorer in a real browser (Debian's Chromium driven by playwright-core, headless)
// against a real `kn serve` (GraphQL, the explorer's bundle built by the server) on the test
// database with the seed facts and wrong objects, with P17 indexed on demo-mbert in two languages
// by the real `kn index`: overview → relation P17 → a fact (its grid stored by the indexer) →
// heatmap with layers × width cells and its knowledge neurons circled → a wrong key refused with
// the server's message (nothing stored) → an edit applied with a write key → before/after bars →
// revert restores the live numbers → a conflicting edit refused with the server's message → the
// neuron page lists the fact. Search by keyboard; fact-checking of a typed statement (verdict as
// the API answers it, recording with and without a key, the evaluation against accepting
// everything, a relation not indexed yet); not-found views for unknown ids. Every view's data in
// at most 2 requests and 300 ms of server time (Server-Timing). Any console error or uncaught page
// error fails the test. Screenshots of every view land in test-artifacts/screenshots/ (and the
// fact view in docs/explorer-fact.png, the README's picture).
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../src/store/client.ts";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const SHOTS = join(ROOT, "test-artifacts/screenshots");
const CHROMIUM = process.env.KN_CHROMIUM ?? "/usr/bin/chromium";
const REQUIRE = process.env.CI === "true";
const MODEL = "demo-mbert";
const LANGUAGES = ["en", "fr"];
const KEY = process.env.KN_EXPLORER_TEST_KEY ?? "w-secret";
/** Development: run the browser steps against an already running server and its database
 * (KN_EXPLORER_TEST_URL=http://localhost:4000 KN_EXPLORER_TEST_DATABASE_URL=postgresql://…) instead of setting one up. */
const DEV_BASE = process.env.KN_EXPLORER_TEST_URL;

const store = DEV_BASE ? devStore() : openTestStore();

function devStore(): ReturnType<typeof openTestStore> {
  const url = process.env.KN_EXPLORER_TEST_DATABASE_URL!;
  const pool = createPool(url);
  return { url, pool, prisma: undefined as never, close: () => pool.end() };
}
const children: ChildProcess[] = [];
let browser: Browser;
let page: Page;
let base: string;
let serverLog = "";
const consoleErrors: string[] = [];
/** Console messages a step expects (a refused request is logged by Chromium as a failed resource). */
let expectedConsole: RegExp | null = null;
/** A GraphQL request of the page: operation name, the server's own time (Server-Timing total), its pg statements. */
interface GraphqlRequest {
  operation: string;
  serverMs: number;
  cpuMs: number;
  statements: number;
}
/** GraphQL requests of the page since the last view change (read from each response's Server-Timing header). */
let requests: Promise<GraphqlRequest>[] = [];
/** The target: every view's data in at most this many requests and this much server time. */
const MAX_REQUESTS = 2;
const MAX_SERVER_MS = 300;
/** Loads of a view that count: a view over the target is loaded again, up to this many times in all, and the best is kept. */
const LOADS = 3;
/**
 * Wall-clock server time is asserted only while the machine is not saturated (1-minute load
 * average per core at most this): on a machine shared with other jobs a request waits for a core
 * whatever it costs. The server's CPU time for the view (Server-Timing `cpu`) is asserted always.
 */
const QUIET_LOAD_PER_CORE = 2;
interface ViewLoad {
  view: string;
  operations: string;
  requests: number;
  /** Server time of the view's requests added up (they run one after the other), first load and best load. */
  firstMs: number;
  bestMs: number;
  /** The server process's CPU time for them, first load and least. */
  firstCpuMs: number;
  bestCpuMs: number;
  loads: number;
  statements: number;
  /** 1-minute load average per core when the view was loaded. */
  loadPerCore: number;
}
const viewLoads: ViewLoad[] = [];

function parseServerTiming(header: string | undefined): { totalMs: number; cpuMs: number; statements: number } {
  const total = /(?:^|,\s*)total;dur=([\d.]+)/.exec(header ?? "");
  const cpu = /(?:^|,\s*)cpu;dur=([\d.]+)/.exec(header ?? "");
  const db = /(?:^|,\s*)db;dur=[\d.]+;desc="(\d+) statements"/.exec(header ?? "");
  if (!total || !cpu) throw new Error(`a GraphQL answer without a Server-Timing total and cpu: ${JSON.stringify(header)}`);
  return { totalMs: Number(total[1]), cpuMs: Number(cpu[1]), statements: db ? Number(db[1]) : 0 };
}

/** Waits for `selector`; on a timeout, a screenshot and what the page shows instead (error boxes name the server's code and message). */
async function waitOrExplain(what: string, selector: string, timeout = 120_000): Promise<void> {
  try {
    await page.waitForSelector(selector, { timeout });
  } catch (error) {
    await shot(`failed-${what.replace(/\W+/g, "-")}`);
    const shown = await page.locator(".error, .not-found, .loading").allTextContents();
    throw new Error(`${what}: ${(error as Error).message.split("\n")[0]}; the page shows: ${JSON.stringify(shown)}`);
  }
}

/** Waits for `ready` and the network to settle; the view's GraphQL requests and their summed server time. */
async function settle(view: string, ready: string): Promise<{ list: GraphqlRequest[]; serverMs: number; cpuMs: number }> {
  await waitOrExplain(view, ready);
  await page.waitForLoadState("networkidle");
  const list = await Promise.all(requests);
  return { list, serverMs: list.reduce((sum, r) => sum + r.serverMs, 0), cpuMs: list.reduce((sum, r) => sum + r.cpuMs, 0) };
}

/**
 * Loads a view by `go`, waits for `ready`, and records its GraphQL requests and server time. A
 * view whose data took longer than the target is reloaded (same URL, same requests) up to LOADS
 * times in all and its best load kept: a machine shared with other jobs stalls single requests,
 * and what the target is about is the work a view costs, not a stall (both numbers are printed).
 */
async function loadView(view: string, go: () => Promise<unknown>, ready: string): Promise<void> {
  requests = [];
  await go();
  const first = await settle(view, ready);
  let best = first;
  let bestCpuMs = first.cpuMs;
  let loads = 1;
  while ((best.serverMs > MAX_SERVER_MS || bestCpuMs > MAX_SERVER_MS) && loads < LOADS) {
    requests = [];
    await page.reload();
    const again = await settle(view, ready);
    loads++;
    if (again.serverMs < best.serverMs) best = again;
    bestCpuMs = Math.min(bestCpuMs, again.cpuMs);
  }
  viewLoads.push({
    view,
    operations: first.list.map((r) => r.operation).join(" + "),
    requests: first.list.length,
    firstMs: first.serverMs,
    bestMs: best.serverMs,
    firstCpuMs: first.cpuMs,
    bestCpuMs,
    loads,
    loadPerCore: os.loadavg()[0] / os.cpus().length,
    statements: first.list.reduce((n, r) => n + r.statements, 0),
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function kn(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, onData: (text: string) => void = () => undefined): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = "";
    const listen = (d: Buffer) => {
      out += d.toString();
      onData(d.toString());
      const m = out.match(pattern);
      if (m) resolve(m);
    };
    child.stdout!.on("data", listen);
    child.stderr!.on("data", listen);
    child.on("exit", (code) => reject(new Error(`exited with ${code} before ${pattern}:\n${out.slice(-3000)}`)));
  });
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", resolve)));

/** fmt(x, 6) of the explorer's tables (web/src/components/table.tsx). */
const fmt6 = (x: number) => (Number.isInteger(x) ? String(x) : x !== 0 && Math.abs(x) < 1e-6 ? x.toExponential(1) : x.toFixed(6));

/** A query straight to the server (what the page must agree with). */
async function graphql<T>(query: string): Promise<T> {
  const res = await fetch(`${base}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const available = existsSync(CHROMIUM);
if (!available && REQUIRE) throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs Debian's chromium`);

describe.skipIf(!available)("web explorer in Chromium", () => {
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    if (DEV_BASE) {
      base = DEV_BASE;
    } else {
      await truncateAll(store.pool);
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: store.url, PORT: String(await freePort()), KN_WORKERS: "0", KN_API_KEYS: `tester:${KEY}:write` };
      // the seed facts (what `npm start` imports), then `kn index` beside the real server: `kn serve`
      // (what `npm start` runs after the import, without its first-start indexing of both demo
      // models, which would share the queue with this selection), building the explorer's bundle
      const t = performance.now();
      await importMlama(store.pool, join(ROOT, "seeds/mlama"));
      await importWrongObjects(store.pool, join(ROOT, "seeds/wrong-objects"));
      const index = kn(["index", "--model", MODEL, "--languages", LANGUAGES.join(","), "--relations", "P17"], env);
      const server = kn(["serve"], env);
      const explorerReady = waitForOutput(server, /Explorer ready at/);
      const graphql = await waitForOutput(server, /GraphQL ready at (\S+)/);
      base = graphql[1].replace(/\/graphql$/, "");
      timings.startSeconds = (performance.now() - t) / 1000;
      expect(await exited(index)).toBe(0);
      timings.indexSeconds = (performance.now() - t) / 1000;
      await explorerReady;
      timings.explorerReadySeconds = (performance.now() - t) / 1000;
      console.log(
        `explorer test setup (seconds from its start): GraphQL ready ${timings.startSeconds.toFixed(1)}, kn index P17 ${LANGUAGES.join("+")} on ${MODEL} done ${timings.indexSeconds.toFixed(1)}, explorer ready ${timings.explorerReadySeconds.toFixed(1)}`,
      );
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error" && !expectedConsole?.test(m.text())) consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
    page.on("requestfinished", (req) => {
      if (!req.url().endsWith("/graphql")) return;
      const query = (JSON.parse(req.postData() ?? "{}") as { query?: string }).query ?? "";
      const operation = /(?:query|mutation)\s+(\w+)/.exec(query)?.[1] ?? "?";
      requests.push(
        req.response().then(async (res) => {
          const timing = parseServerTiming((await res!.allHeaders())["server-timing"]);
          return { operation, serverMs: timing.totalMs, cpuMs: timing.cpuMs, statements: timing.statements };
        }),
      );
    });
  }, 1_200_000);

  afterAll(async () => {
    // what each view cost: GraphQL requests, their server time added up (Server-Timing), statements
    const load = os.loadavg().map((x) => x.toFixed(1)).join(" ");
    console.log(
      [
        `explorer views (server time from each answer's Server-Timing header; load average ${load} on ${os.cpus().length} cores):`,
        "| view | requests | operations | server ms, first load | server ms, best of loads (loads) | server CPU ms, first / least | pg statements | load per core |",
        "|---|--:|---|--:|--:|--:|--:|--:|",
        ...viewLoads.map(
          (v) =>
            `| ${v.view} | ${v.requests} | ${v.operations} | ${v.firstMs.toFixed(0)} | ${v.bestMs.toFixed(0)} (${v.loads}) | ${v.firstCpuMs.toFixed(0)} / ${v.bestCpuMs.toFixed(0)} | ${v.statements} | ${v.loadPerCore.toFixed(1)} |`,
        ),
      ].join("\n"),
    );
    await browser?.close();
    for (const c of children) if (c.exitCode === null) c.kill("SIGINT");
    await Promise.all(children.map(exited));
    await store.close();
  });

  it("walks overview → relation → fact (heatmap, edit, revert) → neuron without a console error", async () => {
    // a P17 fact whose en run has knowledge neurons, and the numbers the views must show
    const { rows: facts } = await store.pool.query<{ id: string; subject: string; layers: number; width: number; kns: number }>(
      `SELECT f.id, fl.subject, r.n_layers AS layers, r.ffn_width AS width, r.n_knowledge AS kns
         FROM attribution_run r JOIN checkpoint c ON c.id = r.checkpoint_id JOIN fact f ON f.key = r.fact_key
         JOIN language l ON l.key = r.language_key JOIN fact_label fl ON fl.fact_id = f.id AND fl.language_code = 'en'
        WHERE c.name = $1 AND l.code = 'en' AND f.relation_id = 'P17'
        ORDER BY r.n_knowledge DESC, f.id LIMIT 1`,
      [MODEL],
    );
    const fact = facts[0];
    expect(fact.kns).toBeGreaterThan(0);

    await loadView("overview", () => page.goto(`${base}/`), '[data-chart="coverage"] svg');
    await shot("overview");

    await loadView("relation P17", () => page.click('a[href="/relation/P17"]'), '[data-chart="overlap"] svg');
    expect(await page.textContent("h1")).toContain("P17");
    await shot("relation-P17");

    // the indexer stored the fact's full grid with its run: the first view reads it, nothing is recomputed
    await loadView("fact, first view", () => page.click(`[data-view="relation"] a[href^="/fact/${fact.id}"]`), '[data-chart="heatmap"] svg');
    expect(await page.getAttribute("[data-grid-source]", "data-grid-source")).toBe("STORED");
    const grids = await store.pool.query<{ from_index: boolean }>(
      `SELECT g.from_index FROM run_grid g JOIN attribution_run r ON r.id = g.run_id AND r.checkpoint_id = g.checkpoint_id
        JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key WHERE f.id = $1 AND l.code = 'en'`,
      [fact.id],
    );
    expect(grids.rows).toEqual([{ from_index: true }]);
    await loadView("fact, again", () => page.reload(), '[data-chart="heatmap"] svg');
    // every unit of every layer is a cell; the knowledge neurons are the circled ones
    const cells = await page.locator('[data-chart="heatmap"] g[aria-label="rect"] rect').count();
    expect(cells).toBe(fact.layers * fact.width);
    expect(await page.locator('[data-chart="heatmap"] g[aria-label="dot"] circle').count()).toBe(fact.kns);
    await page.waitForSelector('[data-chart="sharing"] svg');
    await shot("fact");
    copyFileSync(join(SHOTS, "fact.png"), join(ROOT, "docs/explorer-fact.png"));
    const liveRows = async (phase: string) =>
      (await page.locator('table[data-table="live-answers"] tbody tr').allTextContents()).filter((r) => r.startsWith(phase)).map((r) => r.slice(phase.length));

    // a wrong key: the server's message, and no edit stored
    const editCount = async () => Number((await store.pool.query("SELECT count(*) AS n FROM edit")).rows[0].n);
    const editsBefore = await editCount();
    expectedConsole = /status of 401/;
    await page.fill('input[name="apiKey"]', "not-the-key");
    await page.click('[data-panel="edit"] button[type="submit"]');
    await page.waitForSelector('[data-panel="edit"] .error');
    expect(await page.textContent('[data-panel="edit"] .error')).toContain("API key sent in Authorization is not valid");
    expectedConsole = null;
    expect(await editCount()).toBe(editsBefore);
    await shot("fact-wrong-key");

    // suppress the fact's en knowledge neurons with the write key
    await page.fill('input[name="apiKey"]', KEY);
    await page.selectOption('select[name="kind"]', "SUPPRESS");
    await page.selectOption('select[name="target"]', "KN");
    await page.click('[data-panel="edit"] button[type="submit"]');
    await page.waitForSelector('[data-edit-status="ACTIVE"]', { timeout: 60_000 });
    const { rows: edits } = await store.pool.query<{ id: string; status: string; effects: number }>(
      "SELECT e.id::text, e.status, (SELECT count(*)::int FROM edit_effect x WHERE x.edit_id = e.id) AS effects FROM edit e ORDER BY e.id DESC LIMIT 1",
    );
    expect(await editCount()).toBe(editsBefore + 1);
    expect(edits[0].status.toUpperCase()).toBe("ACTIVE");
    // two bars (before, after) per measured fact and language
    expect(await page.locator('[data-chart="edit-bars"] g[aria-label="bar"] rect').count()).toBe(2 * edits[0].effects);
    const liveRowCount = (n: number) => page.waitForFunction(`document.querySelectorAll('table[data-table="live-answers"] tbody tr').length === ${n}`);
    await liveRowCount(10);
    const before = await liveRows("before");
    expect(before).toHaveLength(5);
    const afterEdit = await liveRows("after edit");
    expect(afterEdit).not.toEqual(before);
    await shot("fact-edited");

    await page.click('[data-panel="edit"] button[name="revert"]');
    await page.waitForSelector('[data-edit-status="REVERTED"]', { timeout: 60_000 });
    await liveRowCount(15);
    expect(await liveRows("after revert")).toEqual(before);
    await shot("fact-reverted");

    // an edit the server refuses shows the server's message and changes nothing: erasing neurons
    // that an active weight edit already holds is a CONFLICT
    await page.selectOption('select[name="kind"]', "ERASE");
    await page.click('[data-panel="edit"] button[type="submit"]');
    await page.waitForSelector('[data-edit-status="ACTIVE"]', { timeout: 60_000 });
    const editsWithErase = await editCount();
    expectedConsole = /status of 409/;
    await page.click('[data-panel="edit"] button[type="submit"]');
    await page.waitForSelector('[data-panel="edit"] .error', { timeout: 60_000 });
    expect(await page.textContent('[data-panel="edit"] .error')).toMatch(/^CONFLICT: .*already/);
    expectedConsole = null;
    expect(await editCount()).toBe(editsWithErase);
    await shot("fact-edit-refused");
    await page.click('[data-panel="edit"] button[name="revert"]');
    await page.waitForSelector('[data-edit-status="REVERTED"]', { timeout: 60_000 });
    // the refused attempt left its "before" answers; the revert adds its own
    await liveRowCount(10);
    expect(await liveRows("after revert")).toHaveLength(5);

    // the neuron page of the fact's top knowledge neuron lists the fact
    await loadView("neuron", () => page.click('table[data-table="knowledge-neurons"] tbody tr:first-child a'), '[data-view="neuron"] table');
    await page.waitForSelector(`[data-view="neuron"] table[data-table$="-facts"] a[href^="/fact/${fact.id}"]`);
    expect(await page.textContent(`[data-view="neuron"] table[data-table$="-facts"] a[href^="/fact/${fact.id}"]`)).toBe(fact.subject);
    await page.waitForSelector('[data-view="neuron"] table[data-table$="-edits"] tbody tr');
    await shot("neuron");

    expect(consoleErrors).toEqual([]);
  }, 300_000);

  it("shows search, fact-checking and not-found views by URL and keyboard", async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('[data-view="overview"]');
    await page.keyboard.press("/");
    await page.keyboard.type("Lond");
    await loadView("search", () => page.keyboard.press("Enter"), '[data-view="search"] table tbody tr');
    expect(page.url()).toBe(`${base}/search?q=Lond`);
    await shot("search");

    // fact-checking a typed statement: verdict, score, threshold and neurons as the API answers them
    await page.goto(`${base}/check`);
    await page.waitForSelector('[data-view="check"] form');
    await page.fill('[data-view="check"] input[name="subject"]', "London");
    await page.selectOption('[data-view="check"] select[name="relation"]', "P17");
    await page.fill('[data-view="check"] input[name="object"]', "United Kingdom");
    await page.selectOption('[data-view="check"] select[name="lang"]', "en");
    await page.fill('[data-view="check"] input[name="apiKey"]', "");
    await loadView("fact-checking", () => page.click('[data-view="check"] button[type="submit"]'), '[data-view="check"] [data-verdict]');
    expect(page.url()).toBe(`${base}/check?model=${MODEL}&subject=London&relation=P17&object=United+Kingdom&lang=en`);
    const api = await graphql<{ checkFact: { verdict: boolean; score: number; threshold: number; neurons: { layer: number; unit: number }[] } }>(
      `{ checkFact(model: "${MODEL}", subject: "London", relation: "P17", object: "United Kingdom", language: "en") { verdict score threshold neurons { layer unit } } }`,
    );
    const verdict = api.checkFact;
    expect(await page.getAttribute("[data-verdict]", "data-verdict")).toBe(String(verdict.verdict));
    expect(await page.textContent('[data-value="score"]')).toBe(fmt6(verdict.score));
    expect(await page.textContent('[data-value="threshold"]')).toBe(fmt6(verdict.threshold));
    expect(await page.locator('[data-value="neurons"] a').allTextContents()).toEqual(verdict.neurons.map((n) => `L${n.layer}:${n.unit}`));

    // recording the check needs a write key: without one the page says so and nothing is stored
    const checkCount = async () => Number((await store.pool.query("SELECT count(*) AS n FROM fact_check")).rows[0].n);
    const checksBefore = await checkCount();
    await page.click('[data-verdict] button[name="record"]');
    await page.waitForSelector("[data-verdict] .error");
    expect(await page.textContent("[data-verdict] .error")).toContain("needs a write API key");
    expect(await checkCount()).toBe(checksBefore);
    await page.fill('[data-view="check"] input[name="apiKey"]', KEY);
    const recordedId = `document.querySelector("[data-verdict] [data-recorded]")?.getAttribute("data-recorded") ?? null`;
    const previous = (await page.evaluate(recordedId)) as string | null;
    await page.click('[data-verdict] button[name="record"]');
    await page.waitForFunction(`(${recordedId}) !== null && (${recordedId}) !== ${JSON.stringify(previous)}`);
    expect(await checkCount()).toBe(checksBefore + 1);
    const { rows: recorded } = await store.pool.query<{ id: string; verdict: boolean; score: number }>("SELECT id::text, verdict, score FROM fact_check ORDER BY id DESC LIMIT 1");
    expect(await page.getAttribute("[data-verdict] [data-recorded]", "data-recorded")).toBe(recorded[0].id);
    expect(recorded[0].verdict).toBe(verdict.verdict);
    expect(recorded[0].score).toBeCloseTo(verdict.score, 12);
    expect(await page.locator('table[data-table^="fact-checks-"] tbody tr').first().textContent()).toContain("London");

    // the stored evaluation against the model's own answer and against accepting everything
    if (await page.locator('[data-evaluation="none"]').count()) {
      await page.click('[data-evaluation="none"] button[name="evaluate"]');
      await waitOrExplain("the stored evaluation", '[data-evaluation]:not([data-evaluation="none"])');
    }
    const { rows: evaluations } = await store.pool.query<{ results: { withDkn: { positives: number; negatives: number; precision: number; recall: number } } }>(
      "SELECT results FROM fact_check_evaluation e JOIN checkpoint c ON c.id = e.checkpoint_id WHERE c.name = $1 AND e.language_code = 'en' ORDER BY e.id DESC LIMIT 1",
      [MODEL],
    );
    const stored = evaluations[0].results.withDkn;
    const evaluationRows = await page.locator('table[data-table^="fact-checking-"] tbody tr').allTextContents();
    const cells = async (method: string) =>
      page.locator('table[data-table^="fact-checking-"] tbody tr', { hasText: method }).first().locator("td").allTextContents();
    expect(evaluationRows.some((r) => r.includes("accept everything"))).toBe(true);
    // columns: relation, method, DKN neurons, precision, recall, F1, accuracy, ...
    const acceptAll = await cells("accept everything");
    expect(Number(acceptAll[3])).toBeCloseTo(stored.positives / (stored.positives + stored.negatives), 3);
    expect(acceptAll[4]).toBe("1");
    const dkn = await cells("DKN score");
    expect(Number(dkn[3])).toBeCloseTo(stored.precision, 3);
    expect(Number(dkn[4])).toBeCloseTo(stored.recall, 3);
    await shot("check");

    // a relation with no degenerate neurons in the language yet: no verdict is asked for, the page
    // says why and queues the indexing with the write key
    await loadView(
      "fact-checking, relation not indexed",
      () => page.goto(`${base}/check?model=${MODEL}&subject=France&relation=P36&object=Paris&lang=en`),
      "[data-verdict-unavailable]",
    );
    expect(viewLoads.at(-1)!.operations).toBe("CheckBase + CheckFact");
    expect(await page.textContent("[data-verdict-unavailable]")).toContain("no degenerate knowledge neurons of P36 in en");
    const jobCount = async () => Number((await store.pool.query("SELECT count(*) AS n FROM index_job WHERE 'P36' = ANY(relations)")).rows[0].n);
    const jobsBefore = await jobCount();
    await page.click('[data-verdict-unavailable] button[name="index"]');
    await page.waitForSelector("[data-verdict-unavailable] [data-index-job]");
    expect(await jobCount()).toBe(jobsBefore + 1);
    await shot("check-not-indexed");

    for (const [path, name] of [
      ["/fact/00000000-no-such-fact", "not-found-fact"],
      ["/relation/P999999", "not-found-relation"],
      [`/neuron/no-such-model/0/0`, "not-found-neuron"],
      ["/check?model=no-such-model&subject=London&relation=P17&object=United%20Kingdom&lang=en", "not-found-check-model"],
      ["/check?relation=P999999", "not-found-check-relation"],
      ["/no/such/view", "not-found-path"],
    ]) {
      await page.goto(`${base}${path}`);
      await page.waitForSelector('[data-view="not-found"]');
      if (name === "not-found-fact") await shot(name);
    }
    expect(consoleErrors).toEqual([]);
  }, 240_000);

  it(`loads every view's data in at most ${MAX_REQUESTS} requests and ${MAX_SERVER_MS} ms of server time`, () => {
    expect(viewLoads.map((v) => v.view)).toEqual([
      "overview", "relation P17", "fact, first view", "fact, again", "neuron", "search", "fact-checking", "fact-checking, relation not indexed",
    ]);
    for (const v of viewLoads) {
      expect(v.requests, v.view).toBeLessThanOrEqual(MAX_REQUESTS);
      expect(v.bestCpuMs, `${v.view}: ${v.bestCpuMs.toFixed(0)} ms of server CPU time (least of ${v.loads} loads)`).toBeLessThanOrEqual(MAX_SERVER_MS);
      if (v.loadPerCore <= QUIET_LOAD_PER_CORE) {
        expect(v.bestMs, `${v.view}: ${v.bestMs.toFixed(0)} ms of server time (best of ${v.loads} loads)`).toBeLessThanOrEqual(MAX_SERVER_MS);
      } else {
        console.log(`${v.view}: wall-clock server time ${v.bestMs.toFixed(0)} ms not asserted: load average ${v.loadPerCore.toFixed(1)} per core when it loaded`);
      }
    }
  });
});
