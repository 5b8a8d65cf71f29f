// Loads the seed facts (mLAMA layout) for training and evaluation of the demo models.
import { scriptConverter } from "../data/chinese.ts";
import { listLanguageFolders, parseFact, parseTemplate, readJsonLines, type MlamaFilter } from "../data/mlama.ts";

export interface SeedFact {
  uuid: string;
  relation: string;
  language: string;
  subject: string;
  object: string;
  subUri: string;
  objUri: string;
  /** The seed template of the relation in this language. */
  template: string;
}

export interface SeedSet {
  languages: string[];
  relations: string[];
  /** language -> relation -> template */
  templates: Map<string, Map<string, string>>;
  facts: SeedFact[];
  /** Problems met while reading (bad lines, facts without template). */
  problems: string[];
}

/**
 * Reads every (fact, language) of a seeds folder, zh converted to simplified characters as on
 * import; facts without a template are skipped and reported.
 */
export async function loadSeeds(root: string, filter: MlamaFilter = {}): Promise<SeedSet> {
  const folders = await listLanguageFolders(root, filter);
  const templates = new Map<string, Map<string, string>>();
  const facts: SeedFact[] = [];
  const problems: string[] = [];
  const relations = new Set<string>();
  for (const folder of folders) {
    const byRelation = new Map<string, string>();
    templates.set(folder.language, byRelation);
    if (folder.templatesFile) {
      for await (const row of readJsonLines(folder.templatesFile, scriptConverter(folder.language))) {
        if ("problem" in row) {
          problems.push(`${folder.templatesFile}:${row.line}: ${row.problem}`);
          continue;
        }
        const t = parseTemplate(folder.language, row.value);
        if (typeof t === "string") problems.push(`${folder.templatesFile}:${row.line}: ${t}`);
        else byRelation.set(t.relation, t.template);
      }
    }
    for (const { relation, file } of folder.relationFiles) {
      const template = byRelation.get(relation);
      if (!template) {
        problems.push(`${file}: no template for ${relation} in ${folder.language}`);
        continue;
      }
      relations.add(relation);
      for await (const row of readJsonLines(file, scriptConverter(folder.language))) {
        if ("problem" in row) {
          problems.push(`${file}:${row.line}: ${row.problem}`);
          continue;
        }
        const f = parseFact(folder.language, relation, row.value);
        if (typeof f === "string") {
          problems.push(`${file}:${row.line}: ${f}`);
          continue;
        }
        facts.push({
          uuid: f.uuid,
          relation,
          language: folder.language,
          subject: f.subLabel,
          object: f.objLabel,
          subUri: f.subUri,
          objUri: f.objUri,
          template,
        });
      }
    }
  }
  return {
    languages: folders.map((f) => f.language),
    relations: [...relations].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)) || a.localeCompare(b)),
    templates,
    facts,
    problems,
  };
}
