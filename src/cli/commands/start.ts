import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { importMlama, importWrongObjects } from "../../store/import-mlama.ts";
import { openStore } from "../store-session.ts";
import { SEED_DIRS } from "./import.ts";
import { DEFAULT_RELATIONS, queueFirstStartIndexing } from "../../indexer/first-start.ts";
import { serve } from "./serve.ts";

export function register(program: Command): void {
  program
    .command("start")
    .description("Migrate, import the seed facts (idempotent), serve GraphQL and, when the demo models have nothing indexed, index a default selection in the background: what `npm start` runs")
    .action(async () => {
      const config = loadConfig();
      const store = await openStore(config, { statementTimeout: true });
      try {
        const dirs = SEED_DIRS(config.seedsDir);
        const facts = await importMlama(store.pool, dirs.mlama);
        const wrong = await importWrongObjects(store.pool, dirs.wrongObjects);
        const problems = facts.problems.length + wrong.problems.length;
        process.stderr.write(
          `seeds: ${facts.languages} languages, ${facts.relations} relations, ${facts.labels.seen} fact labels (${facts.labels.inserted} new)` +
            `${problems ? `, ${problems} malformed lines skipped` : ""}\n`,
        );
      } catch (err) {
        await store.close();
        throw err;
      }
      await serve(config, store, {
        // nothing indexed yet: the demo models get a default selection, worked in the background
        onListening: async ({ queue, demoModels }) => {
          for (const r of await queueFirstStartIndexing(store.pool, await queue(), demoModels)) {
            if (r.action === "created" || r.action === "resumed") {
              process.stderr.write(`first start: ${r.model}: index job ${r.jobId} ${r.action} (${DEFAULT_RELATIONS.join(", ")} in every language; ${r.queued} runs queued; follow it with indexJobs)\n`);
            }
          }
        },
      });
    });
}
