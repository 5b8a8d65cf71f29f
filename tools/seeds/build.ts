// Builds the committed seed data set from its source tables:
//   seeds/source/templates.json + seeds/source/<relation>.json
//   -> seeds/mlama/<lang>/templates.jsonl, seeds/mlama/<lang>/<relation>.jsonl   (mLAMA 1.1 layout)
//   -> seeds/wrong-objects/<lang>/<relation>.jsonl                            (fact-checking candidates)
// Run: npx tsx tools/seeds/build.ts   (deterministic: same sources, same bytes)
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "../../src/analysis/random.ts";

const SEEDS = join(import.meta.dirname, "../../seeds");
const LANGUAGES = ["en", "zh", "fr", "de", "es", "ru"] as const;
const WRONG_PER_FACT = 5;

type Lang = (typeof LANGUAGES)[number];
interface SourceFact extends Record<Lang, [string, string]> {
  sub: string;
  obj: string;
}
interface SourceRelation {
  relation: string;
  facts: SourceFact[];
}
type Templates = Record<string, Record<Lang, string> & { label: string }>;

const templates = JSON.parse(readFileSync(join(SEEDS, "source/templates.json"), "utf8")) as Templates;
const relations: SourceRelation[] = readdirSync(join(SEEDS, "source"))
  .filter((f) => /^P\d+\.json$/.test(f))
  .sort((a, b) => Number(a.slice(1, -5)) - Number(b.slice(1, -5)))
  .map((f) => JSON.parse(readFileSync(join(SEEDS, "source", f), "utf8")) as SourceRelation);

/** A stable uuid per (relation, subject, object), formatted like the LAMA T-REx uuids. */
function factUuid(relation: string, sub: string, obj: string): string {
  const h = createHash("sha1").update(`${relation}\t${sub}\t${obj}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const problems: string[] = [];

rmSync(join(SEEDS, "mlama"), { recursive: true, force: true });
rmSync(join(SEEDS, "wrong-objects"), { recursive: true, force: true });
for (const lang of LANGUAGES) {
  mkdirSync(join(SEEDS, "mlama", lang), { recursive: true });
  mkdirSync(join(SEEDS, "wrong-objects", lang), { recursive: true });
  const rows = relations.map((r) => ({ relation: r.relation, template: templates[r.relation]?.[lang] }));
  for (const r of rows) if (!r.template) problems.push(`no ${lang} template for ${r.relation}`);
  writeFileSync(join(SEEDS, "mlama", lang, "templates.jsonl"), jsonl(rows));
}

for (const { relation, facts } of relations) {
  // Object label per (object, language), and every object a subject has (multi-valued relations).
  const objectLabel = new Map<string, Record<Lang, string>>();
  const objectsOfSubject = new Map<string, Set<string>>();
  for (const f of facts) {
    const labels = objectLabel.get(f.obj) ?? ({} as Record<Lang, string>);
    for (const lang of LANGUAGES) {
      if (labels[lang] !== undefined && labels[lang] !== f[lang][1]) {
        problems.push(`${relation} ${f.obj}: ${lang} object label "${f[lang][1]}" differs from "${labels[lang]}"`);
      }
      labels[lang] ??= f[lang][1];
    }
    objectLabel.set(f.obj, labels);
    objectsOfSubject.set(f.sub, (objectsOfSubject.get(f.sub) ?? new Set()).add(f.obj));
  }
  const objects = [...objectLabel.keys()];

  for (const lang of LANGUAGES) {
    const factRows: object[] = [];
    const wrongRows: object[] = [];
    facts.forEach((f, lineid) => {
      const uuid = factUuid(relation, f.sub, f.obj);
      const [subLabel, objLabel] = f[lang];
      factRows.push({ uuid, lineid, sub_uri: f.sub, obj_uri: f.obj, sub_label: subLabel, obj_label: objLabel, predicate_id: relation });
      // Wrong objects: other objects of the same relation, never one the subject truly has,
      // never one whose label equals the gold label; the same picks in every language.
      const random = seededRandom(uuid);
      const pool = objects
        .filter((o) => !objectsOfSubject.get(f.sub)!.has(o))
        .filter((o) => LANGUAGES.every((l) => objectLabel.get(o)![l].toLowerCase() !== f[l][1].toLowerCase()));
      for (let i = pool.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [pool[i], pool[j]] = [pool[j], pool[i]];
      }
      const picks = pool.slice(0, WRONG_PER_FACT);
      if (picks.length < 3) problems.push(`${relation} ${f.sub}: only ${picks.length} wrong objects`);
      wrongRows.push({ uuid, wrong_objects: picks.map((o) => objectLabel.get(o)![lang]), wrong_uris: picks });
    });
    writeFileSync(join(SEEDS, "mlama", lang, `${relation}.jsonl`), jsonl(factRows));
    writeFileSync(join(SEEDS, "wrong-objects", lang, `${relation}.jsonl`), jsonl(wrongRows));
  }
  console.log(`${relation}: ${facts.length} facts, ${objects.length} distinct objects`);
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
