// How knowledge neurons are selected per language, from the command line (kn index, kn
// calibrate-tau): the paper's τ by default, --tau given values, --calibrate-tau (§13.6), or
// --fixed-k. The result travels with each queued job and is stored with each run.
import type { Pool } from "pg";
import type { FactModel } from "../attribution/model-port.ts";
import type { RunSetting } from "../attribution/run-setting.ts";
import { type NeuronSelection, tauFor, topKSelection } from "../attribution/selection.ts";
import { CalibrationError, type LanguageCalibration, calibrateLanguages } from "../indexer/calibrate-tau.ts";
import { labelledLanguages } from "../store/calibration-sample.ts";
import { CliError } from "./errors.ts";
import { positiveInt } from "./options.ts";

export const REFERENCE_LANGUAGE = "en";

export interface TauFlags {
  tau?: string;
  calibrateTau?: boolean;
  calibrationFacts: string;
  seed: string;
  fixedK?: string;
}

export interface TauSpec {
  /** One τ for every language without its own. */
  all?: number;
  byLanguage: Record<string, number>;
}

/** "0.25" → every language; "en=0.3,de=0.25" → per language. */
export function parseTauSpec(spec: string): TauSpec {
  const check = (text: string, what: string) => {
    const tau = Number(text);
    if (text.trim() === "" || !(tau >= 0 && tau <= 1)) throw new CliError(`--tau ${what} must be a number between 0 and 1 (got ${JSON.stringify(text)})`);
    return tau;
  };
  if (!spec.includes("=")) return { all: check(spec, "value"), byLanguage: {} };
  const byLanguage: Record<string, number> = {};
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [language, value, ...rest] = part.split("=");
    if (!language || value === undefined || rest.length) throw new CliError(`--tau expects x or lang=x,lang=x (got ${JSON.stringify(part)})`);
    byLanguage[language.trim()] = check(value, `for ${language.trim()}`);
  }
  return { byLanguage };
}

export interface Selections {
  byLanguage: Record<string, NeuronSelection>;
  /** For languages not in byLanguage (null: the paper's τ of the language). */
  fallback: NeuronSelection | null;
  calibrations: LanguageCalibration[];
}

/**
 * The selections the flags ask for. --calibrate-tau calibrates every language of `languages`
 * (default: all labelled ones) except en and those given by --tau, against en at its given or
 * paper τ; the model is attributed only then.
 */
export async function resolveSelections(
  flags: TauFlags,
  ctx: {
    pool: Pool;
    languages: readonly string[];
    relations: readonly string[];
    setting: RunSetting;
    model: () => Promise<FactModel>;
    onProgress?: (language: string, done: number, total: number) => void;
  },
): Promise<Selections> {
  if (flags.fixedK !== undefined) {
    if (flags.tau !== undefined || flags.calibrateTau) throw new CliError("--fixed-k selects a number of neurons: it cannot be combined with --tau or --calibrate-tau");
    return { byLanguage: {}, fallback: topKSelection(positiveInt(flags.fixedK, "fixed-k")), calibrations: [] };
  }
  const spec = flags.tau === undefined ? { byLanguage: {} } : parseTauSpec(flags.tau);
  const byLanguage: Record<string, NeuronSelection> = Object.fromEntries(
    Object.entries(spec.byLanguage).map(([language, tau]) => [language, { tau, rule: { rule: "given" } }]),
  );
  const fallback: NeuronSelection | null = spec.all === undefined ? null : { tau: spec.all, rule: { rule: "given" } };
  if (!flags.calibrateTau) return { byLanguage, fallback, calibrations: [] };

  const referenceTau = byLanguage[REFERENCE_LANGUAGE]?.tau ?? fallback?.tau ?? tauFor(REFERENCE_LANGUAGE);
  const languages = (ctx.languages.length ? ctx.languages : await labelledLanguages(ctx.pool)).filter(
    (l) => l !== REFERENCE_LANGUAGE && !(l in byLanguage),
  );
  try {
    const calibrations = await calibrateLanguages(ctx.pool, await ctx.model(), {
      setting: ctx.setting,
      languages,
      relations: ctx.relations,
      reference: { language: REFERENCE_LANGUAGE, tau: referenceTau },
      facts: positiveInt(flags.calibrationFacts, "calibration-facts"),
      seed: flags.seed,
      onProgress: ctx.onProgress,
    });
    for (const c of calibrations) byLanguage[c.language] = c.selection;
    return { byLanguage, fallback, calibrations };
  } catch (err) {
    if (err instanceof CalibrationError) throw new CliError(err.message);
    throw err;
  }
}

/** One line per calibrated language, for people. */
export function describeCalibration(c: LanguageCalibration): string {
  const r = c.selection.rule;
  if (r.rule !== "calibrated") return `${c.language}: τ ${c.selection.tau}`;
  return (
    `${c.language}: τ ${c.selection.tau.toFixed(4)}, mean |KN| ${r.meanKn.toFixed(2)} ` +
    `(${r.reference} at τ ${r.referenceTau}: ${r.referenceMeanKn.toFixed(2)}) on ${r.facts} facts, seed ${r.seed}` +
    (c.skipped ? `, ${c.skipped} skipped` : "")
  );
}
