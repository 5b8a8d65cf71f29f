import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { resolveDatabase } from "../../store/database.ts";
import { applyMigrations } from "../../store/migrate.ts";

export function register(program: Command): void {
  program
    .command("db:migrate")
    .description("Apply pending migrations (prisma/migrations) to DATABASE_URL or the embedded database")
    .action(async () => {
      const config = loadConfig();
      const database = await resolveDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
      try {
        const applied = await applyMigrations(database.url);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await database.stop();
      }
    });
}
