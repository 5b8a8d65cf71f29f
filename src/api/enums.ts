// GraphQL enum values <-> the names used in the database and on the command line.
import type { TargetMode } from "../attribution/fact-attribution.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import { DEFAULT_RUN_SETTING, MAX_STEPS, type RunSetting } from "../attribution/run-setting.ts";
import { badInput } from "./errors.ts";

export const methodFromApi = (m: string | null | undefined): Method => (m ?? "AMIG_COMPAT").toLowerCase().replace("_", "-") as Method;
export const methodToApi = (m: string): string => m.toUpperCase().replace("-", "_");
export const targetModeFromApi = (m: string | null | undefined): TargetMode => (m ?? "CLEAN").toLowerCase() as TargetMode;
export const targetModeToApi = (m: string): string => m.toUpperCase();

/** The run setting a query names (method, steps, targetMode arguments; null means the default). */
export function settingFromApi(args: { method?: string | null; steps?: number | null; targetMode?: string | null }): RunSetting {
  const steps = args.steps ?? DEFAULT_RUN_SETTING.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw badInput(`steps must be between 1 and ${MAX_STEPS}`, "steps");
  return { method: methodFromApi(args.method), steps, targetMode: targetModeFromApi(args.targetMode) };
}
