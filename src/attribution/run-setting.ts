// The attribution setting of a stored run: everything in its key besides checkpoint, fact and
// language. Runs of different settings select different neurons, so every stored neuron carries
// its run's setting and every query over stored neurons names one (ALGORITHMS.md §3, §2.6).
import type { TargetMode } from "./fact-attribution.ts";
import type { Method } from "./integrated-gradients.ts";

export interface RunSetting {
  method: Method;
  /** Riemann steps N. */
  steps: number;
  targetMode: TargetMode;
}

/** What `kn index` and the API use when nothing else is asked for. */
export const DEFAULT_RUN_SETTING: Readonly<RunSetting> = Object.freeze({ method: "amig-compat", steps: 20, targetMode: "clean" });

/** The most steps a run may have (the API refuses more). */
export const MAX_STEPS = 1000;

/** "amig-compat/20/clean": how a setting is named in messages. */
export const settingLabel = (s: RunSetting) => `${s.method}/${s.steps}/${s.targetMode}`;
