// Which PostgreSQL the application uses: DATABASE_URL when set, else the embedded server of
// <project>/.data/postgres (started here, stopped by stop()).
import { startEmbeddedPostgres, type EmbeddedPostgresOptions } from "./embedded.ts";
import { applyMigrations } from "./migrate.ts";

export interface ResolvedDatabase {
  url: string;
  /** "env" (DATABASE_URL) or "embedded". */
  source: "env" | "embedded";
  /** Stops the embedded server when this call started it; no-op otherwise. */
  stop(): Promise<void>;
}

export interface ResolveDatabaseOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Options of the embedded server (data directory, port, log). */
  embedded?: EmbeddedPostgresOptions;
  /** Apply the pending migrations before returning (default false). */
  migrate?: boolean;
}

export async function resolveDatabase(options: ResolveDatabaseOptions = {}): Promise<ResolvedDatabase> {
  const env = options.env ?? process.env;
  let resolved: ResolvedDatabase;
  const fromEnv = env.DATABASE_URL?.trim();
  if (fromEnv) {
    resolved = { url: fromEnv, source: "env", stop: async () => undefined };
  } else {
    const server = await startEmbeddedPostgres(options.embedded);
    resolved = { url: server.url, source: "embedded", stop: server.stop };
  }
  if (options.migrate) {
    try {
      await applyMigrations(resolved.url);
    } catch (error) {
      await resolved.stop();
      throw error;
    }
  }
  return resolved;
}
