import type { Command } from "commander";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { TARGET_MODES } from "../../attribution/fact-attribution.ts";
import { loadConfig } from "../../config.ts";
import { createIndexJob } from "../../indexer/jobs.ts";
import { startQueue } from "../../indexer/queue.ts";
import { runWorker } from "../../indexer/worker.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { type LanguageModel, loadModel } from "../../model/index.ts";
import { DeviceLostError } from "../../model/webgpu.ts";
import { loadModelForCli } from "../load-model.ts";
import { type TauFlags, describeCalibration, resolveSelections } from "../tau-options.ts";
import { registerDemoModels, resolveCheckpoint } from "../checkpoints.ts";
import { failureGroups, jobProgress } from "../../store/index-jobs.ts";
import { CliError } from "../errors.ts";
import { BACKEND_HELP, ROW_BUDGET_HELP, list, positiveInt, rowBudgetOption, settingOption } from "../options.ts";
import { createProgress } from "../progress.ts";
import { spawnWorkers } from "../spawn-workers.ts";
import { withStore } from "../store-session.ts";
import { outageWaitFromEnv, retryWhileUnavailable } from "../../store/unavailable.ts";

interface IndexFlags extends TauFlags {
  model: string;
  languages?: string[];
  relations?: string[];
  method: string;
  steps: string;
  targetMode: string;
  topK: string;
  workers: string;
  batch: string;
  force?: boolean;
  dkn: boolean;
  detach?: boolean;
  backend?: string;
  rowBudget?: string;
  quiet?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker whose GPU device was lost has stored what it computed and marked the rest of its batch failed. */
const deviceLostError = (lost: DeviceLostError) =>
  new CliError(`${lost.message}. The affected items are marked failed; nothing stored was lost. Run the same command again to redo them.`, 3);

export function register(program: Command): void {
  program
    .command("index")
    .description("Attribute every (fact, language) of a selection with one model and store runs and knowledge neurons")
    .requiredOption("--model <name|dir>", "registered name, demo-mbert / demo-mgpt, or a checkpoint folder")
    .option("--languages <codes>", "only these languages (default: all imported)", list)
    .option("--relations <ids>", "only these relations (default: all imported)", list)
    .option("--method <method>", `one of ${METHODS.join(", ")}`, "amig-compat")
    .option("--steps <n>", "Riemann steps N", "20")
    .option("--target-mode <mode>", TARGET_MODES.join(" | "), "clean")
    .option("--top-k <k>", "neuron scores kept per run", "100")
    .option("--workers <n>", "worker processes working the queue (this one included)", "1")
    .option("--batch <n>", "jobs fetched, attributed and stored together by a worker", "4")
    .option("--force", "recompute runs that are already stored")
    .option("--no-dkn", "skip the degenerate-neuron search that follows each attribution")
    .option("--detach", "only queue the work; `kn worker` processes (anywhere) do it")
    .option("--tau <x|lang=x,…>", "selection threshold relative to the maximum: one value, or per language (default: en 0.3, zh 0.2, others 0.3)")
    .option("--calibrate-tau", "set τ of every selected language but en so that its mean |KN| on a seeded sample matches en's (ALGORITHMS.md §13.6)")
    .option("--calibration-facts <n>", "facts per language attributed for --calibrate-tau", "50")
    .option("--seed <s>", "seed of the --calibrate-tau sample", "42")
    .option("--fixed-k <k>", "select the k best neurons of each fact instead of a threshold")
    .option("--backend <name>", BACKEND_HELP)
    .option("--row-budget <tokens>", ROW_BUDGET_HELP)
    .option("--quiet", "no progress bar")
    .action(async (flags: IndexFlags) => {
      const setting = settingOption(flags);
      const topK = positiveInt(flags.topK, "top-k");
      const workers = positiveInt(flags.workers, "workers");
      const batchSize = positiveInt(flags.batch, "batch");
      const rowBudget = rowBudgetOption(flags.rowBudget);
      const config = loadConfig();
      await withStore(config, async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        // Loaded once: calibration attributes with it, and the in-process worker reuses it.
        let loaded: Promise<LanguageModel> | null = null;
        const model = () => (loaded ??= loadModelForCli(checkpoint.path, flags.backend, rowBudget));
        const selections = await resolveSelections(flags, {
          pool: store.pool,
          languages: flags.languages ?? [],
          relations: flags.relations ?? [],
          setting,
          model: async () => attributionModel(await model()),
          onProgress: (language, done, total) => flags.quiet || process.stderr.write(`calibrating τ (${language}): ${done}/${total} facts\r`),
        });
        for (const c of selections.calibrations) process.stderr.write(`calibrated ${describeCalibration(c)}\n`);
        const boss = await startQueue(store.url);
        try {
          const job = await createIndexJob(store.pool, boss, {
            selections: selections.byLanguage,
            defaultSelection: selections.fallback,
            checkpointId: checkpoint.id,
            setting,
            languages: flags.languages ?? [],
            relations: flags.relations ?? [],
            topK,
            force: Boolean(flags.force),
            dkn: flags.dkn,
          });
          if (!job) throw new CliError("no fact matches the selection (import facts first: kn import mlama <dir>)");
          process.stderr.write(`index job ${job.id}: ${job.total} runs, ${job.skipped} already stored, ${job.queued} queued\n`);
          if (flags.detach) {
            process.stdout.write(`${job.id}\n`);
            return;
          }
          const children = spawnWorkers(workers - 1, store.url, flags);
          const progress = createProgress(`index ${checkpoint.name}`, job.total - job.skipped, { quiet: flags.quiet, unit: " runs" });
          const controller = new AbortController();
          const retry = <T>(what: string, work: () => Promise<T>) => retryWhileUnavailable(what, work, { maxWaitMs: outageWaitFromEnv() });
          // SIGTERM/SIGINT: store the batch in hand, leave the rest queued (kn index again resumes);
          // a second signal ends the process at once (its open transaction is rolled back)
          const interrupted = (signal: NodeJS.Signals) => {
            process.stderr.write(`\n${signal}: stopping after the batch in hand; run the same kn index again to resume\n`);
            process.exitCode = signal === "SIGINT" ? 130 : 143;
            controller.abort();
          };
          process.once("SIGTERM", interrupted);
          process.once("SIGINT", interrupted);
          const poll = (async () => {
            while (!controller.signal.aborted) {
              const p = (await retry("reading progress", () => jobProgress(store.pool, job.id)))!;
              progress.update(p.done + p.failed - job.skipped, p.failed ? `${p.failed} failed` : "");
              if (p.pending === 0) break;
              await sleep(500);
            }
          })().finally(() => controller.abort());
          let lost: DeviceLostError | undefined;
          try {
            await runWorker({
              pool: store.pool,
              boss,
              batchSize,
              exitWhenIdle: false,
              signal: controller.signal,
              loadModel: (path) => (path === checkpoint.path ? model() : loadModel(path, { backend: flags.backend, rowBudget })),
            }).catch((err: unknown) => {
              if (!(err instanceof DeviceLostError)) throw err;
              lost = err;
            });
            if (!lost) await poll;
          } finally {
            controller.abort();
            await poll.catch(() => undefined);
            progress.stop();
            for (const c of children) c.kill("SIGTERM");
            process.off("SIGTERM", interrupted);
            process.off("SIGINT", interrupted);
          }
          const p = (await retry("reading progress", () => jobProgress(store.pool, job.id)))!;
          process.stdout.write(`index job ${job.id}: ${p.done} done, ${p.failed} failed, ${p.pending} pending, ${p.rate.toFixed(2)} runs/s\n`);
          if (p.failed) {
            for (const g of await failureGroups(store.pool, job.id, 20)) {
              process.stderr.write(`failed ${g.count} (${g.language}, e.g. ${g.example}): ${g.error}\n`);
            }
            process.exitCode ??= 3;
          }
          if (lost) throw deviceLostError(lost);
        } finally {
          await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
        }
      });
    });

  program
    .command("worker")
    .description("Work the attribution queue (any number of workers, on any machine sharing DATABASE_URL)")
    .option("--batch <n>", "jobs fetched, attributed and stored together", "4")
    .option("--exit-when-idle", "exit once no job is waiting")
    .option("--backend <name>", BACKEND_HELP)
    .option("--row-budget <tokens>", ROW_BUDGET_HELP)
    .action(async (flags: { batch: string; exitWhenIdle?: boolean; backend?: string; rowBudget?: string }) => {
      const batchSize = positiveInt(flags.batch, "batch");
      const rowBudget = rowBudgetOption(flags.rowBudget);
      await withStore(loadConfig(), async (store) => {
        const boss = await startQueue(store.url);
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
        try {
          const totals = await runWorker({
            pool: store.pool,
            boss,
            batchSize,
            exitWhenIdle: Boolean(flags.exitWhenIdle),
            signal: controller.signal,
            loadModel: (path) => loadModel(path, { backend: flags.backend, rowBudget }),
          });
          process.stderr.write(`worker: ${totals.computed} computed, ${totals.skipped} already stored, ${totals.failed} failed\n`);
        } catch (err) {
          throw err instanceof DeviceLostError ? deviceLostError(err) : err;
        } finally {
          await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
        }
      });
    });
}
