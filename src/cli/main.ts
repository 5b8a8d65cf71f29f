#!/usr/bin/env node
// Entry point of the `kn` command line (npm run --silent kn -- <command>).
// Each command lives in src/cli/commands/<name>.ts and exports `register(program)`.
import { Command } from "commander";
import { generateIfStale } from "../store/generate.ts";
import { releaseWebgpu } from "../model/webgpu.ts";
import { ConfigError } from "../config-error.ts";
import { CliError } from "./errors.ts";

// The Prisma client is generated code (gitignored, and npm 11 runs no install scripts): make it
// exist before any command module imports it, so `npm install && npm start` works on a fresh clone.
generateIfStale();
const { commandModules } = await import("./commands/index.ts");

const program = new Command("kn")
  .description("Knowledge-neuron database: AMIG attributions of multilingual LMs in PostgreSQL, served over GraphQL.")
  .showHelpAfterError()
  .exitOverride();

for (const mod of commandModules) mod.register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err);
} finally {
  releaseWebgpu(); // a live Dawn device keeps Node's event loop running
}

function reportError(err: unknown): number {
  if (err && typeof err === "object" && "code" in err && typeof (err as { code: unknown }).code === "string") {
    const code = (err as { code: string; exitCode?: number }).code;
    // commander already printed its own message (unknown option, --help, --version ...)
    if (code.startsWith("commander.")) return (err as { exitCode?: number }).exitCode ?? 1;
  }
  if (err instanceof CliError || err instanceof ConfigError) {
    process.stderr.write(`kn: ${err.message}\n`);
    return err instanceof CliError ? err.exitCode : 2;
  }
  process.stderr.write(`kn: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
