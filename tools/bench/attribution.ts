// npm run bench:attribution — AMIG attribution throughput (amig-compat, clean target mode,
// 20 steps, all layers) of the TypeScript engine on tfjs wasm (single-threaded in Node) against
// the equivalent PyTorch implementation (tools/golden/attribute.py, float32) on the same prompts
// in the same run: the demo models (real seed prompts, en + zh) and a random model of BERT-base
// shape (tools/bench/make_random_bert.py writes it to .data/bench/bert-base-random once).
//
// The TypeScript side runs the real attributeFacts (a model's prompts in one batch, as the
// indexer's worker does) through a wrapper of the model port that times its calls, so the
// breakdown is measured, not estimated: the unpatched prompt pass (prepare), the blanked AMIG
// baseline (activationsBatch over the T blanked copies), the patched forward+gradient passes
// (patchedGradients: every layer and prompt, packed by the row budget, --row-budget) and the rest
// (JavaScript: path points, gradient sums, score arithmetic, tokenization), each with its tfjs
// kernel runs per prompt (engine.runKernel: forward and gradient ops; on a GPU about one dispatch
// each, the host-side cost that bounds an H100; the count is the same on every backend). The
// PyTorch side times the same phases.
//
// Backends: --backends wasm,webgpu (default both; webgpu is skipped, with the reason, where Dawn
// sees no adapter). GPU runs (.gpu-bench/run.sh, built by `npm run bench:gpu`): --torch-device
// auto|cuda|cpu, --python <path>, --wasm-reference <file> (the wasm figures measured on the
// development machine, shown beside the GPU's), --table <file> (the main table is also written
// there, rewritten after every model), --json <file> (the rows so far, after every model, without
// score matrices), --from-json <file> (measure nothing: print the saved rows again, e.g. with a newer
// --wasm-reference), --per-language <n> (seed prompts per language for every model), --quick (one
// prompt per model, one round; the 1.3 B row attributes its top layer only and skips torch:
// llvmpipe proves it loads and attributes, a GPU runs the full row).
// wasm rows are saved to .data/bench/attribution-wasm.json for the GPU folder.
//
// Options: --models a,b (labels, default all); --baseline-ref <git ref> adds a table of this
// checkout against that ref, measured in the same run: the ref is checked out in a temporary
// `git worktree` sharing this checkout's node_modules, each tree runs in its own child process
// (tools/bench/attribution-probe.ts), rounds alternate between the two (ABBA order), and the
// score digests of both are compared; --compare-only skips the torch table.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import readline from "node:readline";
import { parseArgs, promisify } from "node:util";
import { attributeFact, attributeFacts } from "../../src/attribution/fact-attribution.ts";
import { type FactModel, attributionModel } from "../../src/attribution/model-port.ts";
import { PromptError, buildPrompt } from "../../src/attribution/prompts.ts";
import { type LanguageModel, PROJECT_ROOT, loadModel, parseBackendName } from "../../src/model/index.ts";
import * as tf from "../../src/model/tf.ts";
import { DEFAULT_ROW_BUDGET } from "../../src/model/transformer-model.ts";
import { listAdapters, releaseWebgpu, webgpuDevice } from "../../src/model/webgpu.ts";
import { type BenchPrompt, seedPrompts } from "./seed-prompts.ts";
import { markdownTable } from "./table.ts";

const METHOD = "amig-compat" as const;
const STEPS = 20;
const BENCH_DIR = path.join(PROJECT_ROOT, "tools", "bench");
const BENCH_DATA = path.join(PROJECT_ROOT, ".data", "bench");
const RANDOM_BERT_DIR = path.join(BENCH_DATA, "bert-base-random");
const WASM_RESULTS = path.join(BENCH_DATA, "attribution-wasm.json");
interface BenchModel {
  label: string;
  /** A name under models/ or a folder. */
  model: string;
  /** Seed prompts per language. */
  perLanguage: number;
  languages: string[];
  /** Timed passes over the prompts (the mean is reported). */
  rounds: number;
  /** Extra torch thread counts (besides 1) for this model. */
  extraTorchThreads: number[];
  missing: string;
  prepare?: () => Promise<void>;
  /** Backends this model is not run on, with the reason shown in the table. */
  skip?: Partial<Record<string, string>>;
  /** --quick: attribute only the top layer (and skip torch) for this model. */
  quickTopLayerOnly?: boolean;
}

/** A random GPT-2-shaped checkpoint from tools/bench/make_random_gpt2.py, generated once. */
function randomGpt2(shape: string, perLanguage: number, extra: Partial<BenchModel> = {}): BenchModel {
  const dir = path.join(BENCH_DATA, `${shape}-random`);
  return {
    label: shape, model: dir, perLanguage, languages: ["en"], rounds: 1, extraTorchThreads: [], missing: "could not be generated (see above)",
    prepare: () => generate(dir, [path.join(BENCH_DIR, "make_random_gpt2.py"), "--shape", shape, "--out", dir]),
    ...extra,
  };
}

async function generate(dir: string, args: string[]): Promise<void> {
  const t0 = performance.now();
  await run(PYTHON, args, 3_600_000);
  const s = (performance.now() - t0) / 1000;
  if (s > 2) log(`generated ${dir} in ${s.toFixed(1)} s`);
}

const MODELS: BenchModel[] = [
  { label: "demo-mbert", model: "demo-mbert", perLanguage: 5, languages: ["en", "zh"], rounds: 3, extraTorchThreads: [], missing: "not found: run kn train-demo" },
  { label: "demo-mgpt", model: "demo-mgpt", perLanguage: 5, languages: ["en", "zh"], rounds: 3, extraTorchThreads: [], missing: "not found: run kn train-demo" },
  {
    label: "bert-base-random",
    model: RANDOM_BERT_DIR,
    // two single-piece English prompts: one attribution step each (~1 min of CPU each on wasm)
    perLanguage: 2,
    languages: ["en"],
    rounds: 1,
    extraTorchThreads: [2],
    missing: "could not be generated (see above)",
    prepare: () => generate(RANDOM_BERT_DIR, [path.join(BENCH_DIR, "make_random_bert.py"), "--out", RANDOM_BERT_DIR]),
  },
  // GPT-2 medium's shape (24×4096, hidden 1024, vocabulary 50257): one English prompt
  // (its weights need ~5.3 GiB on wasm, whose memory is 4 GiB: loadModel refuses it there)
  randomGpt2("gpt2-medium", 1, { skip: { wasm: "does not fit in wasm's 4 GiB (loadModel refuses it: ~5.3 GiB)" } }),
  // mGPT's shape (24×8192, hidden 2048, vocabulary 100000, 1.42 B parameters, 5.7 GB in float32)
  randomGpt2("mgpt-1.3b", 1, { skip: { wasm: "does not fit in wasm's 4 GiB (loadModel refuses it)" }, quickTopLayerOnly: true }),
];

// ------------------------------------------------------------------------------------ helpers

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function run(cmd: string, args: string[], timeout: number): Promise<string> {
  const { stdout } = await promisify(execFile)(cmd, args, { timeout, maxBuffer: 256 * 2 ** 20 });
  return stdout;
}

/**
 * Wall and CPU seconds (CPU: this process, all threads; robust against other load on the machine)
 * and, on the TypeScript side, tfjs kernel runs: every kernel the engine runs, forward and
 * gradient alike. On a GPU each is (about) one dispatch the host records and submits, the cost
 * that dominates on an H100 (docs/gpu-bench/run-2026-11-27-sweep); the count is the same on every
 * backend, so it can be cut and checked without a GPU.
 */
interface Time {
  wall: number;
  cpu: number;
  kernels?: number;
}

const zero = (): Time => ({ wall: 0, cpu: 0, kernels: 0 });
const scale = (t: Time, k: number): Time => ({ wall: t.wall * k, cpu: t.cpu * k, kernels: t.kernels === undefined ? undefined : t.kernels * k });

/** tfjs kernel runs in this process so far: engine.runKernel, which every op and gradient op goes through. */
let kernelRuns = 0;
{
  const engine = tf.engine() as unknown as { runKernel: (...args: unknown[]) => unknown };
  const runKernel = engine.runKernel;
  engine.runKernel = function (this: unknown, ...args: unknown[]) {
    kernelRuns++;
    return runKernel.apply(this, args);
  };
}

async function measure<T>(fn: () => Promise<T>, add: (t: Time) => void): Promise<T> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const k0 = kernelRuns;
  try {
    return await fn();
  } finally {
    const c = process.cpuUsage(c0);
    add({ wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, kernels: kernelRuns - k0 });
  }
}

const addTo = (acc: Time) => (t: Time) => {
  acc.wall += t.wall;
  acc.cpu += t.cpu;
  if (t.kernels !== undefined) acc.kernels = (acc.kernels ?? 0) + t.kernels;
};

interface Phases {
  prepare: Time;
  baseline: Time;
  /** The batched patched forward+gradient passes (patchedGradients: every layer, every prompt). */
  gradients: Time;
  gradientCalls: number;
  gradientRows: number;
}

const newPhases = (): Phases => ({ prepare: zero(), baseline: zero(), gradients: zero(), gradientCalls: 0, gradientRows: 0 });

/** The model port with its calls timed into `phases`. */
function timedModel(fm: FactModel, phases: { current: Phases }): FactModel {
  return {
    ...fm,
    activationsBatch: (inputs, position, layers) => measure(() => fm.activationsBatch(inputs, position, layers), addTo(phases.current.baseline)),
    prepare: (ids, position) => measure(() => fm.prepare(ids, position), addTo(phases.current.prepare)),
    patchedGradients: (requests) =>
      measure(
        () => fm.patchedGradients(requests),
        (t) => {
          const p = phases.current;
          addTo(p.gradients)(t);
          p.gradientCalls++;
          p.gradientRows += requests.reduce((n, r) => n + r.rows.length, 0);
        },
      ),
  };
}

interface TsResult {
  /** Mean per prompt. */
  perPrompt: Time;
  /** Mean per prompt of each phase. */
  phases: Phases;
  scores: Float32Array[][];
  pieces: number;
  tokens: number;
  /** The model's row budget (--row-budget, else the backend's default). */
  rowBudget?: number;
}

async function benchTs(lm: LanguageModel, fm: FactModel, prompts: BenchPrompt[], rounds: number, layers?: number[]): Promise<TsResult> {
  const phases = { current: newPhases() };
  const model = timedModel(fm, phases);
  // warm-up (not timed): layer 0 runs the patched passes through every layer above, so every
  // weight is used forward and backward once (XNNPACK packs weights on first use, WebGPU compiles
  // its shaders); a run restricted to some layers warms up on those
  await attributeFact(model, prompts[0].fact, { method: METHOD, steps: STEPS, layers: layers ?? [0] });
  phases.current = newPhases();
  const total = zero();
  let scores: Float32Array[][] = [];
  for (let r = 0; r < rounds; r++) {
    // all prompts in one batch, as the indexer's worker hands a fetched batch of jobs over
    const res = await measure(() => attributeFacts(model, prompts.map((p) => p.fact), { method: METHOD, steps: STEPS, targetMode: "clean", layers }), addTo(total));
    scores = res.map((a) => a.scores);
    res.forEach((a, i) => {
      const p = prompts[i];
      if (a.inputIds.join() !== p.ids.join() || a.targetIds.join() !== p.pieces.join()) {
        throw new Error(`${lm.dir}: attributeFacts tokenized ${JSON.stringify(p.fact)} differently from buildPrompt`);
      }
    });
    log(`  TS round ${r + 1}/${rounds}: ${total.wall.toFixed(1)} s wall, ${total.cpu.toFixed(1)} s CPU so far`);
  }
  const k = 1 / (rounds * prompts.length);
  const ph = phases.current;
  return {
    perPrompt: scale(total, k),
    phases: {
      prepare: scale(ph.prepare, k),
      baseline: scale(ph.baseline, k),
      gradients: scale(ph.gradients, k),
      gradientCalls: ph.gradientCalls / rounds,
      gradientRows: ph.gradientRows / rounds,
    },
    scores,
    pieces: prompts.reduce((a, p) => a + p.pieces.length, 0),
    tokens: prompts.reduce((a, p) => a + p.ids.length, 0),
    rowBudget: lm.rowBudget,
  };
}

interface TorchResult {
  threads: number;
  /** "cpu" or the CUDA device's name. */
  device?: string;
  version?: string;
  perPrompt?: Time;
  phases?: { prepare: Time; baseline: Time; gradients: Time };
  loadSeconds?: number;
  /** max |s_ts − s_torch| / max |s_torch| over the prompts. */
  maxRelDiff?: number;
  /** Why there is no result (torch missing, failed, or skipped). */
  error?: string;
}

async function benchTorch(dir: string, prompts: BenchPrompt[], arch: "masked" | "causal", threads: number, rounds: number, ts: TsResult): Promise<TorchResult> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "kn-bench-")), "prompts.json");
  fs.writeFileSync(file, JSON.stringify(prompts.map((p) => ({ arch, ids: p.ids, pieces: p.pieces }))));
  try {
    const args = [path.join(BENCH_DIR, "torch_attribution.py"), "--model", dir, "--prompts", file, "--method", METHOD, "--steps", `${STEPS}`,
      "--dtype", "float32", "--threads", `${threads}`, "--rounds", `${rounds}`, "--device", TORCH_DEVICE];
    const out = JSON.parse((await run(PYTHON, args, 600_000)).trim().split("\n").pop() ?? "") as {
      torch: string; threads: number; device: string; load_s: number; seconds: number[]; cpu_seconds: number[];
      phases: { prepare: Time; baseline: Time; gradients: Time }; scores: number[][];
    };
    let maxRelDiff = 0;
    out.scores.forEach((ref, i) => {
      const mine = ts.scores[i].flatMap((row) => Array.from(row));
      let maxRef = 0;
      let maxDiff = mine.length === ref.length ? 0 : Infinity;
      for (let k = 0; k < ref.length; k++) {
        maxRef = Math.max(maxRef, Math.abs(ref[k]));
        maxDiff = Math.max(maxDiff, Math.abs(mine[k] - ref[k]));
      }
      maxRelDiff = Math.max(maxRelDiff, maxRef > 0 ? maxDiff / maxRef : maxDiff);
    });
    const k = 1 / prompts.length;
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    return {
      threads: out.threads,
      device: out.device,
      version: out.torch,
      perPrompt: { wall: sum(out.seconds) * k, cpu: sum(out.cpu_seconds) * k },
      phases: { prepare: scale(out.phases.prepare, k), baseline: scale(out.phases.baseline, k), gradients: scale(out.phases.gradients, k) },
      loadSeconds: out.load_s,
      maxRelDiff,
    };
  } catch (err) {
    const msg = (err as Error & { stderr?: string }).stderr || (err as Error).message;
    const line = msg.split("\n").filter((l) => /Error|No such file|not found/i.test(l)).pop() ?? msg.split("\n")[0];
    return { threads, error: /No module named 'torch'|ENOENT/.test(msg) ? "torch: not available" : `torch failed: ${line.trim()}` };
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------- output

interface Row {
  label: string;
  shape: string;
  prompts: string;
  backend: string;
  ts?: TsResult;
  torch?: TorchResult;
  note?: string;
}

const f3 = (v: number) => (v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const both = (t: Time) => `${f3(t.wall)} (${f3(t.cpu)})`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "");

/** wasm seconds per prompt measured elsewhere (--wasm-reference), by model label. */
interface WasmReference {
  machine: string;
  date: string;
  /** Per row, where and when it was measured (rows of earlier runs are kept). */
  rows: Array<{ label: string; wall: number; cpu: number; prompts: string; machine?: string; date?: string }>;
}

function mainTable(rows: Row[], reference?: WasmReference): string {
  const header = ["model", "shape (L×d_ff)", "prompts (pieces, tokens)", "backend", "TS s/prompt (CPU s)", "TS prompts/s", "torch",
    "torch s/prompt (CPU s)", "torch prompts/s", "ratio TS/torch wall (CPU)", "max rel. diff",
    ...(reference ? ["wasm s/prompt (reference)", "TS speed-up over wasm"] : [])];
  const cells = rows.map((r) => {
    const ref = reference?.rows.find((w) => w.label === r.label);
    const refCells = reference ? [ref ? f3(ref.wall) : "not measured", ref && r.ts ? ratio(ref.wall, r.ts.perPrompt.wall) : ""] : [];
    if (r.note) return [r.label, r.shape, r.prompts, r.backend, r.note, "", "", "", "", "", "", ...refCells];
    const ts = r.ts!;
    const t = r.torch!;
    const tsCells = [both(ts.perPrompt), f3(1 / ts.perPrompt.wall)];
    const where = `${t.device && t.device !== "cpu" ? t.device : `cpu, ${t.threads} thread${t.threads > 1 ? "s" : ""}`}`;
    if (t.error || !t.perPrompt) return [r.label, r.shape, r.prompts, r.backend, ...tsCells, where, t.error ?? "", "", "", "", ...refCells];
    const p = t.perPrompt;
    return [r.label, r.shape, r.prompts, r.backend, ...tsCells, where, both(p), f3(1 / p.wall),
      `${ratio(ts.perPrompt.wall, p.wall)} (${ratio(ts.perPrompt.cpu, p.cpu)})`, t.maxRelDiff!.toExponential(1), ...refCells];
  });
  return markdownTable(header, cells, 4);
}

function breakdown(label: string, ts: TsResult, torch: TorchResult | undefined): string {
  const p = ts.phases;
  const rest = (total: Time, parts: Time[]): Time => ({
    wall: Math.max(0, total.wall - parts.reduce((a, t) => a + t.wall, 0)),
    cpu: Math.max(0, total.cpu - parts.reduce((a, t) => a + t.cpu, 0)),
    kernels: total.kernels === undefined ? undefined : Math.max(0, total.kernels - parts.reduce((a, t) => a + (t.kernels ?? 0), 0)),
  });
  const tp = torch?.phases;
  const tt = torch?.perPrompt;
  const rows: [string, Time, Time | undefined][] = [
    ["unpatched prompt pass (prepare)", p.prepare, tp?.prepare],
    ["blanked baseline (T inputs, activationsBatch)", p.baseline, tp?.baseline],
    [`patched forward+gradient (${p.gradientRows.toFixed(0)} rows in ${p.gradientCalls.toFixed(0)} batched call(s) per round, row budget ${ts.rowBudget ?? "?"})`, p.gradients, tp?.gradients],
    ["rest (path points, sums, scores, tokenization)", rest(ts.perPrompt, [p.prepare, p.baseline, p.gradients]), tp && tt ? rest(tt, [tp.prepare, tp.baseline, tp.gradients]) : undefined],
    ["total", ts.perPrompt, tt],
  ];
  const pct = (v: number, of: number) => `${((100 * v) / of).toFixed(1)} %`;
  const cells = rows.map(([name, s, t]) => [
    name, both(s), pct(s.cpu, ts.perPrompt.cpu), s.kernels === undefined ? "" : s.kernels.toFixed(0),
    t ? both(t) : "", t && tt ? pct(t.cpu, tt.cpu) : "", t ? ratio(s.cpu, t.cpu) : "",
  ]);
  return [
    `**${label}**: seconds per prompt, wall (CPU); shares and ratio on CPU time; TS kernels: tfjs kernel runs per prompt (forward and gradient ops; on a GPU about one dispatch each); torch fp32, 1 thread`,
    "",
    markdownTable(["phase", "TS s", "TS share", "TS kernels", "torch s", "torch share", "TS/torch (CPU)"], cells, 1),
  ].join("\n");
}

// --------------------------------------------------------------------------------------- main

// ----------------------------------------------------------------------- baseline comparison

interface ProbeRound {
  wall: number;
  cpu: number;
  digest: string;
  /** Every prompt's score matrix, flattened (first round only). */
  scores?: number[][];
}

/** A child process measuring attributions with the code of `root` (see attribution-probe.ts). */
class Probe {
  private readonly lines: AsyncIterator<string>;
  private readonly child;

  constructor(root: string, spec: BenchModel, backend: string) {
    this.child = spawn(process.execPath, ["--import", "tsx", path.join(BENCH_DIR, "attribution-probe.ts"), root, spec.model,
      spec.languages.join(","), `${spec.perLanguage}`, METHOD, `${STEPS}`, backend, `${rowBudget ?? ""}`], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    this.lines = readline.createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  async next<T>(): Promise<T> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error("the probe process ended early (see its error above)");
    return JSON.parse(value) as T;
  }

  round(): Promise<ProbeRound> {
    this.child.stdin!.write("round\n");
    return this.next<ProbeRound>();
  }

  close(): void {
    this.child.stdin!.end("quit\n");
  }
}

interface CompareRow {
  label: string;
  backend: string;
  shape: string;
  prompts: number;
  base: Time;
  mine: Time;
  identical: boolean;
  /** max |s_mine − s_base| / max |s_base| over the prompts. */
  maxRelDiff: number;
}

/** A temporary worktree of `ref` that shares this checkout's node_modules; removed by the callback's end. */
async function withWorktree<T>(ref: string, fn: (root: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kn-bench-base-"));
  await run("git", ["-C", PROJECT_ROOT, "worktree", "add", "--detach", dir, ref], 120_000);
  try {
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return await fn(dir);
  } finally {
    await run("git", ["-C", PROJECT_ROOT, "worktree", "remove", "--force", dir], 120_000).catch((err) => log(`could not remove ${dir}: ${(err as Error).message}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function compareWithBaseline(ref: string, base: string, spec: BenchModel, backend: string): Promise<CompareRow> {
  const probes = { base: new Probe(base, spec, backend), mine: new Probe(PROJECT_ROOT, spec, backend) };
  try {
    type Ready = { shape: string; prompts: { ids: number[]; pieces: number[] }[] };
    const [b, m] = [await probes.base.next<Ready>(), await probes.mine.next<Ready>()];
    if (JSON.stringify(b.prompts) !== JSON.stringify(m.prompts)) throw new Error(`${spec.label}: ${ref} and this checkout tokenize the prompts differently`);
    const total = { base: zero(), mine: zero() };
    const digests = { base: new Set<string>(), mine: new Set<string>() };
    const scores: { base?: number[][]; mine?: number[][] } = {};
    for (let r = 0; r < spec.rounds; r++) {
      // AB, BA, AB, ...: the order alternates so a drifting machine load hits both sides alike
      for (const side of r % 2 === 0 ? (["base", "mine"] as const) : (["mine", "base"] as const)) {
        const res = await probes[side].round();
        addTo(total[side])(res);
        digests[side].add(res.digest);
        scores[side] ??= res.scores;
      }
      log(`  round ${r + 1}/${spec.rounds}: ${ref} ${total.base.wall.toFixed(1)} s, this checkout ${total.mine.wall.toFixed(1)} s so far`);
    }
    const k = 1 / (spec.rounds * m.prompts.length);
    const identical = digests.base.size === 1 && digests.mine.size === 1 && [...digests.base][0] === [...digests.mine][0];
    let maxRelDiff = 0;
    scores.base!.forEach((ref, i) => {
      const maxRef = Math.max(...ref.map(Math.abs));
      const maxDiff = Math.max(...ref.map((v, j) => Math.abs(v - scores.mine![i][j])));
      maxRelDiff = Math.max(maxRelDiff, maxRef > 0 ? maxDiff / maxRef : maxDiff);
    });
    return { label: spec.label, backend, shape: m.shape, prompts: m.prompts.length, base: scale(total.base, k), mine: scale(total.mine, k), identical, maxRelDiff };
  } finally {
    probes.base.close();
    probes.mine.close();
  }
}

function compareTable(ref: string, rows: CompareRow[]): string {
  const header = ["model", "backend", "shape (L×d_ff)", "prompts", `${ref} s/prompt (CPU s)`, "this checkout s/prompt (CPU s)", "this/ref wall (CPU)",
    "scores bit-identical", "max rel. diff"];
  return markdownTable(header, rows.map((r) => [r.label, r.backend, r.shape, `${r.prompts}`, both(r.base), both(r.mine),
    `${ratio(r.mine.wall, r.base.wall)} (${ratio(r.mine.cpu, r.base.cpu)})`, r.identical ? "yes" : "no", r.maxRelDiff.toExponential(1)]), 3);
}

const args = parseArgs({
  options: {
    models: { type: "string" }, "baseline-ref": { type: "string" }, "compare-only": { type: "boolean", default: false }, rounds: { type: "string" },
    backends: { type: "string" }, "torch-device": { type: "string" }, python: { type: "string" }, "wasm-reference": { type: "string" },
    table: { type: "string" }, quick: { type: "boolean", default: false }, "row-budget": { type: "string" },
    "per-language": { type: "string" }, json: { type: "string" }, "from-json": { type: "string" },
  },
}).values;
const PYTHON = args.python ?? "/usr/bin/python3";
const TORCH_DEVICE = args["torch-device"] ?? "cpu";
const QUICK = args.quick;
const wanted = args.models?.split(",");
const selected = MODELS.filter((m) => !wanted || wanted.includes(m.label))
  .map((m) => (QUICK ? { ...m, perLanguage: 1, languages: [m.languages[0]], rounds: 1, extraTorchThreads: [] } : m))
  .map((m) => (args.rounds ? { ...m, rounds: Number(args.rounds) } : m))
  .map((m) => (args["per-language"] ? { ...m, perLanguage: Number(args["per-language"]) } : m));
if (wanted && selected.length !== wanted.length) throw new Error(`unknown model in --models (known: ${MODELS.map((m) => m.label).join(", ")})`);
const baselineRef = args["baseline-ref"];
/** --row-budget, else each backend's default (DEFAULT_ROW_BUDGET; both sides of a baseline comparison keep their own). */
const rowBudget = args["row-budget"] ? Number(args["row-budget"]) : undefined;
const backends = (args.backends ?? "wasm,webgpu").split(",").map((b) => parseBackendName(b));
const reference = args["wasm-reference"] ? (JSON.parse(fs.readFileSync(args["wasm-reference"], "utf8")) as WasmReference) : undefined;

/** Why a backend cannot run here (webgpu without an adapter), or undefined. */
async function unavailable(backend: string): Promise<string | undefined> {
  if (backend !== "webgpu") return undefined;
  const adapters = await listAdapters().catch(() => []);
  return adapters.length ? undefined : "no WebGPU adapter (kn backends)";
}

const started = performance.now();
const startLoad = os.loadavg()[0];
/** What a run measured, without the score matrices: --json writes it, --from-json renders it again. */
interface SavedRun {
  rows: Row[];
  details: string[];
  devices: string[];
  torchVersion?: string;
  /** The row budget(s): a number (older runs, or --row-budget) or per backend, e.g. "wasm 2048, webgpu 16384". */
  rowBudget: number | string;
  machine: string;
}

const saved: SavedRun | undefined = args["from-json"] ? (JSON.parse(fs.readFileSync(args["from-json"], "utf8")) as SavedRun) : undefined;
const rows: Row[] = saved?.rows ?? [];
const details: string[] = saved?.details ?? [];
const devices = new Set<string>(saved?.devices);
let torchVersion: string | undefined = saved?.torchVersion;
const machine = () => saved?.machine ?? `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), load average ${startLoad.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`;

/** The row budget(s) of this run: --row-budget, or what each measured backend used. */
function budgetText(): number | string {
  if (saved) return saved.rowBudget;
  if (rowBudget) return rowBudget;
  const used = [...new Set(rows.flatMap((r) => (r.ts?.rowBudget ? [`${r.backend} ${r.ts.rowBudget}`] : [])))];
  return used.length ? used.join(", ") : `each backend's default (${Object.entries(DEFAULT_ROW_BUDGET).map(([b, n]) => `${b} ${n}`).join(", ")})`;
}

/** The table and the rows so far, after every model: a run stopped by a time limit keeps what it measured. */
function saveProgress(): void {
  if (args.table && rows.length) fs.writeFileSync(args.table, `${mainTable(rows, reference)}\n`);
  if (args.json) {
    const strip = (r: Row): Row => (r.ts ? { ...r, ts: { ...r.ts, scores: [] } } : r);
    const run: SavedRun = { rows: rows.map(strip), details, devices: [...devices], torchVersion, rowBudget: budgetText(), machine: machine() };
    fs.writeFileSync(args.json, JSON.stringify(run));
  }
}

for (const spec of args["compare-only"] || saved ? [] : selected) {
  log(`${spec.label} ...`);
  if (spec.prepare) {
    try {
      await spec.prepare();
    } catch (err) {
      log(`${spec.label}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  const configFile = path.join(spec.model.includes(path.sep) ? spec.model : path.join(PROJECT_ROOT, "models", spec.model), "config.json");
  if (!fs.existsSync(configFile)) {
    rows.push({ label: spec.label, shape: "", prompts: "", backend: "", note: spec.missing });
    continue;
  }
  const topOnly = QUICK && spec.quickTopLayerOnly;
  let measured: { ts: TsResult; prompts: BenchPrompt[]; lm: { dir: string; architecture: "masked" | "causal"; shape: string; label: string } } | undefined;
  const ran: Row[] = [];
  for (const backend of backends) {
    const why = spec.skip?.[backend] ?? (await unavailable(backend));
    if (why) {
      ran.push({ label: spec.label, shape: "", prompts: "", backend, note: why });
      continue;
    }
    const t0 = performance.now();
    const lm = await loadModel(spec.model, { backend, rowBudget });
    const loadSeconds = (performance.now() - t0) / 1000;
    try {
      const gpu = webgpuDevice();
      const device = backend === "webgpu" && gpu ? `webgpu (${gpu.adapter.name})` : backend;
      devices.add(device);
      const fm = attributionModel(lm);
      const prompts = seedPrompts(PROJECT_ROOT, {
        build: (fact) => buildPrompt(fm.tokenizer, fact, lm.architecture),
        isPromptError: (err) => err instanceof PromptError,
        maxPositions: lm.maxPositions,
      }, spec.languages, spec.perLanguage);
      const shape = `${lm.nLayers}×${lm.ffnWidth}`;
      if (prompts.length === 0) {
        ran.push({ label: spec.label, shape, prompts: "0", backend, note: "no seed prompt builds with this tokenizer" });
        continue;
      }
      log(`  ${backend}: ${shape}, d=${lm.hidden}, V=${lm.vocabSize}, loaded in ${loadSeconds.toFixed(1)} s; ${prompts.length} prompts: ` +
        prompts.map((p) => `${p.fact.language}/${p.relation} "${p.fact.subject}"→"${p.fact.object}" (${p.ids.length} tok, ${p.pieces.length} pc)`).join("; "));
      const ts = await benchTs(lm, fm, prompts, spec.rounds, topOnly ? [lm.nLayers - 1] : undefined);
      const label = `${prompts.length} (${ts.pieces}, ${ts.tokens})` + (topOnly ? ", top layer only" : "");
      ran.push({ label: spec.label, shape, prompts: label, backend: device, ts });
      measured ??= { ts, prompts, lm: { dir: lm.dir, architecture: lm.architecture, shape, label } };
      details.push(breakdown(`${spec.label} on ${device} (${shape}, hidden ${lm.hidden}, vocab ${lm.vocabSize}; TS load ${loadSeconds.toFixed(1)} s)`, ts, undefined));
    } finally {
      lm.dispose(); // free the backend's memory before the next backend and torch run
    }
  }
  // torch once per model, on the same prompts; its scores are compared with the first backend's
  if (measured && !topOnly) {
    for (const threads of [1, ...spec.extraTorchThreads]) {
      // several threads measure nothing useful while other processes hold the cores
      const load = os.loadavg()[0];
      if (threads > 1 && load > os.cpus().length) {
        rows.push({ ...ran[0], torch: { threads, error: `skipped: machine busy (load ${load.toFixed(1)} on ${os.cpus().length} CPUs)` } });
        continue;
      }
      log(`  torch (${TORCH_DEVICE}), ${threads} thread(s) ...`);
      const torch = await benchTorch(measured.lm.dir, measured.prompts, measured.lm.architecture, threads, spec.rounds, measured.ts);
      torchVersion ??= torch.version;
      if (threads === 1) for (const r of ran) r.torch = torch;
      else rows.push({ ...ran.find((r) => r.ts)!, torch });
      if (torch.error) break;
    }
  }
  for (const r of ran) r.torch ??= { threads: 1, error: topOnly ? "skipped (--quick)" : "not run" };
  rows.push(...ran);
  saveProgress();
}

// wasm figures for the GPU folder's table (npm run bench:gpu carries them to the GPU machine)
const wasmRows = rows.filter((r, i) => r.backend === "wasm" && r.ts && rows.findIndex((o) => o.label === r.label && o.backend === "wasm") === i);
if (wasmRows.length && !QUICK && !saved) {
  fs.mkdirSync(BENCH_DATA, { recursive: true });
  const cpu = os.cpus()[0]?.model ?? "?";
  // rows of models not run this time are kept (a slow model can be measured in its own run)
  const previous = fs.existsSync(WASM_RESULTS) ? (JSON.parse(fs.readFileSync(WASM_RESULTS, "utf8")) as WasmReference).rows : [];
  const where = `${os.cpus().length} CPUs (${cpu}), load average ${startLoad.toFixed(1)} at the start`;
  const date = new Date().toISOString().slice(0, 10);
  const fresh = wasmRows.map((r) => ({ label: r.label, wall: r.ts!.perPrompt.wall, cpu: r.ts!.perPrompt.cpu, prompts: r.prompts, machine: where, date }));
  const wasmReference: WasmReference = {
    machine: where,
    date,
    rows: [...previous.filter((p) => !fresh.some((f) => f.label === p.label)), ...fresh],
  };
  fs.writeFileSync(WASM_RESULTS, JSON.stringify(wasmReference, null, 2));
  log(`wasm figures saved to ${path.relative(PROJECT_ROOT, WASM_RESULTS)}`);
}

const compared: CompareRow[] = [];
if (baselineRef) {
  await withWorktree(baselineRef, async (base) => {
    for (const spec of selected) {
      await spec.prepare?.().catch((err: Error) => log(`${spec.label}: ${err.message.split("\n")[0]}`));
      const configFile = path.join(spec.model.includes(path.sep) ? spec.model : path.join(PROJECT_ROOT, "models", spec.model), "config.json");
      if (!fs.existsSync(configFile)) continue;
      for (const backend of backends) {
        const why = spec.skip?.[backend] ?? (await unavailable(backend));
        if (why) {
          log(`${spec.label} on ${backend}: ${why}`);
          continue;
        }
        log(`${spec.label} on ${backend}: ${baselineRef} against this checkout, ${spec.rounds} round(s) each, interleaved ...`);
        compared.push(await compareWithBaseline(baselineRef, base, spec, backend));
      }
    }
  });
}

saveProgress();
const torchDevices = [...new Set(rows.flatMap((r) => (r.torch?.device ? [r.torch.device] : [])))];
const torchWhere = torchDevices.length ? torchDevices.join(", ") : TORCH_DEVICE === "cpu" ? "CPU" : `device ${TORCH_DEVICE}`;
console.log(`## AMIG attribution throughput: ${METHOD}, clean targets, ${STEPS} steps, all layers; TS: the prompts of a model in one batch, row budget ${budgetText()} tokens\n`);
console.log(`TS: tfjs on ${[...devices].join(", ") || backends.join(", ")} (wasm: single thread), float32. ` +
  `torch: tools/golden/attribute.py, float32, ${torchWhere}${torchVersion ? `, torch ${torchVersion}` : ""}. ` +
  `Machine: ${machine()}` +
  ` (CPU seconds, in parentheses, are this process's own and hold up better than wall time when other work shares the CPUs).` +
  ` One warm-up attribution per side is not timed; model loading is excluded.` +
  (reference ? ` wasm (reference): measured by \`npm run bench:attribution\`, not in this run: ` +
    reference.rows.map((r) => `${r.label} on ${r.machine ?? reference.machine}, ${r.date ?? reference.date}`).join("; ") + "." : "") + "\n");
if (compared.length) {
  console.log(`### This checkout against ${baselineRef} (same prompts, same backend, rounds interleaved)\n`);
  console.log(compareTable(baselineRef!, compared));
  console.log("\nscores bit-identical: the sha256 of every score matrix is the same in every round on both sides; " +
    "max rel. diff: max |score_this − score_ref| / max |score_ref| over the prompts (first round).\n");
}
if (rows.length) {
  console.log(mainTable(rows, reference)); // --table: written by saveProgress above
  console.log("\nmax rel. diff: max |score_TS − score_torch| / max |score_torch| over the prompts (both float32; torch's scores are compared with the first backend's).\n");
  console.log("### Where the time goes (measured per phase)\n");
  console.log(details.join("\n\n"));
}
console.log(`\nbench wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
releaseWebgpu();
process.exit(); // Dawn's instances (one per adapter listed) would keep Node running
