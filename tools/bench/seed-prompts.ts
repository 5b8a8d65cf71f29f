// The seed prompts the attribution benchmark runs: the first fact of each relation (in RELATIONS
// order) that builds a prompt for the model. Shared by the benchmark and its baseline probe, which
// passes in the prompt builder of the tree it measures.
import fs from "node:fs";
import path from "node:path";

/** Relations tried in order for the seed prompts. */
export const RELATIONS = ["P36", "P17", "P19", "P103", "P30", "P27", "P1412", "P138", "P159", "P176"];

export interface SeedFact {
  template: string;
  subject: string;
  object: string;
  language: string;
}

export interface BenchPrompt {
  fact: SeedFact;
  relation: string;
  ids: number[];
  pieces: number[];
}

/** What picking prompts needs from a tree's code: its prompt builder and the model's limits. */
export interface PromptBuilder {
  build(fact: SeedFact): { inputIds: number[]; targetIds: number[] };
  /** True for the builder's "this fact gives no prompt" error (skipped), false for real failures. */
  isPromptError(err: unknown): boolean;
  maxPositions: number;
}

function readJsonl(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function seedPrompts(root: string, builder: PromptBuilder, languages: string[], perLanguage: number): BenchPrompt[] {
  const out: BenchPrompt[] = [];
  for (const language of languages) {
    const dir = path.join(root, "seeds", "mlama", language);
    const templates = new Map(readJsonl(path.join(dir, "templates.jsonl")).map((r) => [String(r.relation), String(r.template)]));
    let n = 0;
    for (const relation of RELATIONS) {
      if (n >= perLanguage) break;
      const template = templates.get(relation);
      if (!template) continue;
      for (const rec of readJsonl(path.join(dir, `${relation}.jsonl`)).slice(0, 5)) {
        const fact: SeedFact = { template, subject: String(rec.sub_label), object: String(rec.obj_label), language };
        try {
          const p = builder.build(fact);
          if (p.inputIds.length + p.targetIds.length > builder.maxPositions) continue;
          out.push({ fact, relation, ids: p.inputIds, pieces: p.targetIds });
          n++;
          break;
        } catch (err) {
          if (!builder.isPromptError(err)) throw err;
        }
      }
    }
  }
  return out;
}
