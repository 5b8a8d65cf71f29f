// The PostgreSQL implementation of the analyses' AnalysisStore.
import type { Pool } from "pg";
import type { AnalysisStore } from "../analysis/analysis-store.ts";
import { degenerateNeuronsByFact } from "./degenerate.ts";
import { factCheckItems } from "./evaluations.ts";
import { indexedFacts } from "./indexed-facts.ts";
import { saveLocalizationMeasures, saveLocalizationResults } from "./localization.ts";

export function analysisStore(pool: Pool): AnalysisStore {
  return {
    indexedFacts: (q) => indexedFacts(pool, q),
    factCheckItems: (language) => factCheckItems(pool, language),
    degenerateNeuronsByFact: (q) => degenerateNeuronsByFact(pool, q),
    saveLocalization: (q, results) => saveLocalizationResults(pool, q, results),
    saveLocalizationMeasures: (q, rows) => saveLocalizationMeasures(pool, q, rows),
  };
}
