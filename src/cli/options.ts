// Parsers for command-line option values; bad values become CliErrors (exit code 2).
import { CliError } from "./errors.ts";

/** "en, zh,fr" -> ["en", "zh", "fr"] */
export const list = (value: string) =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function positiveInt(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--${name} must be a positive integer (got ${JSON.stringify(value)})`);
  return n;
}

/** Help of every command's --backend option. */
export const BACKEND_HELP = "tensor backend: wasm, cpu, webgpu or tensorflow (default: $KN_BACKEND, else wasm; `kn backends` lists them)";
