import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { applyMigrations } from "../../store/migrate.ts";
import { openDatabase } from "../store-session.ts";

export function register(program: Command): void {
  program
    .command("db:migrate")
    .description("Apply pending migrations (prisma/migrations) to DATABASE_URL or the embedded database")
    .action(async () => {
      const config = loadConfig();
      const database = await openDatabase(config);
      try {
        const applied = await applyMigrations(database.url);
        process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database is up to date\n");
      } finally {
        await database.stop();
      }
    });
}
