// The committed seed set is the ground truth of every demo and test: check its shape and
// internal consistency (the facts themselves are checked by humans against Wikidata).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SEEDS = join(import.meta.dirname, "../seeds");
const LANGUAGES = ["de", "en", "es", "fr", "ru", "zh"];
const REQUIRED_RELATIONS = ["P17", "P19", "P27", "P30", "P36", "P37", "P103", "P1412", "P138", "P364"];

const readJsonl = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const relationsOf = (lang: string) =>
  readdirSync(join(SEEDS, "mlama", lang))
    .filter((f) => /^P\d+\.jsonl$/.test(f))
    .map((f) => f.slice(0, -6));

describe("seed facts (seeds/mlama)", () => {
  it("has at least 6 languages, including en, zh, fr and de", () => {
    const langs = readdirSync(join(SEEDS, "mlama")).sort();
    expect(langs).toEqual(expect.arrayContaining(LANGUAGES));
  });

  it("has at least 12 relations including the required ones, in every language", () => {
    const en = relationsOf("en");
    expect(en.length).toBeGreaterThanOrEqual(12);
    expect(en).toEqual(expect.arrayContaining(REQUIRED_RELATIONS));
    for (const lang of LANGUAGES) expect(relationsOf(lang).sort()).toEqual([...en].sort());
  });

  it("has at least 40 facts per relation, with the same uuids and Wikidata ids in every language", () => {
    for (const rel of relationsOf("en")) {
      const en = readJsonl(join(SEEDS, "mlama", "en", `${rel}.jsonl`));
      expect(en.length, rel).toBeGreaterThanOrEqual(40);
      const key = (f: Record<string, unknown>) => `${f.uuid}|${f.sub_uri}|${f.obj_uri}`;
      for (const lang of LANGUAGES) {
        const facts = readJsonl(join(SEEDS, "mlama", lang, `${rel}.jsonl`));
        expect(facts.map(key), `${lang}/${rel}`).toEqual(en.map(key));
        for (const f of facts) {
          for (const field of ["uuid", "sub_uri", "obj_uri", "sub_label", "obj_label"]) {
            expect(typeof f[field] === "string" && (f[field] as string).length > 0, `${lang}/${rel} ${field}`).toBe(true);
          }
          expect(f.sub_uri).toMatch(/^Q\d+$/);
          expect(f.obj_uri).toMatch(/^Q\d+$/);
        }
        expect(new Set(facts.map((f) => f.uuid)).size).toBe(facts.length);
      }
    }
  });

  it("writes Chinese labels in simplified characters", () => {
    // A few traditional characters that have common simplified forms.
    const traditional = /[國語東門長這來們時說見車馬鳥書華臺灣學體會發無與]/;
    for (const rel of relationsOf("zh")) {
      for (const f of readJsonl(join(SEEDS, "mlama", "zh", `${rel}.jsonl`))) {
        expect(`${f.sub_label}${f.obj_label}`, `${rel} ${f.uuid}`).not.toMatch(traditional);
      }
    }
  });

  it("has one template per relation and language, ending with the object slot", () => {
    for (const lang of LANGUAGES) {
      const templates = readJsonl(join(SEEDS, "mlama", lang, "templates.jsonl"));
      expect(templates.map((t) => t.relation).sort()).toEqual(relationsOf(lang).sort());
      for (const t of templates) {
        const text = t.template as string;
        expect(text.split("[X]").length - 1, text).toBe(1);
        // causal models need [Y] last, up to final punctuation
        expect(text, `${lang}/${t.relation}`).toMatch(/\[Y\]\s*[.。]?$/);
      }
    }
  });
});

describe("wrong-object candidates (seeds/wrong-objects)", () => {
  it("gives every fact at least 3 wrong objects from its relation's objects, never the gold", () => {
    for (const lang of LANGUAGES) {
      for (const rel of relationsOf(lang)) {
        const facts = readJsonl(join(SEEDS, "mlama", lang, `${rel}.jsonl`));
        const objects = new Set(facts.map((f) => f.obj_label));
        const wrong = new Map(readJsonl(join(SEEDS, "wrong-objects", lang, `${rel}.jsonl`)).map((w) => [w.uuid, w]));
        for (const f of facts) {
          const w = wrong.get(f.uuid);
          expect(w, `${lang}/${rel} ${f.uuid}`).toBeDefined();
          const labels = w!.wrong_objects as string[];
          expect(labels.length).toBeGreaterThanOrEqual(3);
          expect(new Set(labels).size).toBe(labels.length);
          for (const l of labels) {
            expect(objects.has(l)).toBe(true);
            expect(l.toLowerCase()).not.toBe((f.obj_label as string).toLowerCase());
          }
          expect(w!.wrong_uris as string[]).not.toContain(f.obj_uri);
        }
      }
    }
  });
});
