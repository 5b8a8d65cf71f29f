// The PostgreSQL implementation of the analyses' AnalysisStore.
import type { Pool } from "pg";
import type { AnalysisStore } from "../analysis/analysis-store.ts";
import { degenerateNeuronsByFact } from "./degenerate.ts";
import { factPrompts } from "./edits.ts";
import { factCheckItems } from "./evaluations.ts";
import { indexedFacts } from "./indexed-facts.ts";
import { saveLocalizationMeasures, saveLocalizationResults } from "./localization.ts";

export function analysisStore(pool: Pool): AnalysisStore {
  return {
    indexedFacts: (q) => indexedFacts(pool, q),
    factCheckItems: (language) => factCheckItems(pool, language),
    factLabels: async (ids) =>
      (await factPrompts(pool, ids)).map((r) => ({ factId: r.factId, relationId: r.relationId, language: r.languageCode, template: r.template, subject: r.subject, object: r.object, neurons: [] })),
    degenerateNeuronsByFact: (q) => degenerateNeuronsByFact(pool, q),
    saveLocalization: (q, results) => saveLocalizationResults(pool, q, results),
    saveLocalizationMeasures: (q, rows) => saveLocalizationMeasures(pool, q, rows),
  };
}
