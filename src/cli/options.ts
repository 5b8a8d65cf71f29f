// Parsers for command-line option values; bad values become CliErrors (exit code 2).
import { TARGET_MODES, type TargetMode } from "../attribution/fact-attribution.ts";
import { isMethod, METHODS } from "../attribution/integrated-gradients.ts";
import { MAX_STEPS, type RunSetting } from "../attribution/run-setting.ts";
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

/** --method, --steps and --target-mode as a run setting. */
export function settingOption(flags: { method: string; steps: string; targetMode: string }): RunSetting {
  if (!isMethod(flags.method)) throw new CliError(`unknown --method ${JSON.stringify(flags.method)} (expected ${METHODS.join(", ")})`);
  if (!(TARGET_MODES as readonly string[]).includes(flags.targetMode)) {
    throw new CliError(`unknown --target-mode ${JSON.stringify(flags.targetMode)} (expected ${TARGET_MODES.join(", ")})`);
  }
  const steps = positiveInt(flags.steps, "steps");
  if (steps > MAX_STEPS) throw new CliError(`--steps must be at most ${MAX_STEPS} (got ${steps})`);
  return { method: flags.method, steps, targetMode: flags.targetMode as TargetMode };
}

/** Help of every command's --backend option. */
export const BACKEND_HELP = "tensor backend: wasm, cpu, webgpu or tensorflow (default: $KN_BACKEND, else wasm; `kn backends` lists them)";

/** Help of the --row-budget option of the commands that attribute. */
export const ROW_BUDGET_HELP =
  "tokens per batched forward+backward pass, rows packed across layers and prompts (default: $KN_ROW_BUDGET, else by backend: webgpu 16384, wasm/cpu/tensorflow 512)";

export const rowBudgetOption = (value: string | undefined) => (value === undefined ? undefined : positiveInt(value, "row-budget"));
