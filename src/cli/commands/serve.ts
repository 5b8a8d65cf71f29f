import type { Command } from "commander";
import { startApiServer } from "../../api/server.ts";
import { type AppConfig, loadConfig } from "../../config.ts";
import { CliError } from "../errors.ts";
import { type StoreSession, openStore } from "../store-session.ts";
import { version } from "../version.ts";

/** Serves GraphQL until SIGINT/SIGTERM, then closes the server and the database cleanly. */
export async function serve(config: AppConfig, store: StoreSession): Promise<void> {
  let server;
  try {
    server = await startApiServer({ prisma: store.prisma, pool: store.pool, version }, { port: config.port, limits: config.limits });
  } catch (err) {
    await store.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`port ${config.port} is already in use (set PORT)`);
    throw err;
  }
  process.stderr.write(`GraphQL ready at ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      process.stderr.write(`${signal}: shutting down\n`);
      resolve();
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
  });
  await server.stop();
  await store.close();
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve the GraphQL API on $PORT (default 4000); applies pending migrations first")
    .option("--port <port>", "port to listen on (overrides $PORT)")
    .action(async (flags: { port?: string }) => {
      const config = loadConfig();
      if (flags.port !== undefined) {
        const port = Number(flags.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port ${JSON.stringify(flags.port)}`);
        config.port = port;
      }
      await serve(config, await openStore(config));
    });
}
