// Streaming reader for the mLAMA 1.1 layout: <root>/<lang>/templates.jsonl and
// <root>/<lang>/<relation>.jsonl. Files are read line by line so a full mLAMA (53 languages,
// ~1M lines) never sits in memory; malformed lines become Problems, never exceptions.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { convertStrings } from "./chinese.ts";

export interface TemplateRecord {
  language: string;
  relation: string;
  template: string;
}

export interface FactRecord {
  language: string;
  relation: string;
  uuid: string;
  lineId: number | null;
  subUri: string;
  objUri: string;
  subLabel: string;
  objLabel: string;
}

export interface WrongObjectRecord {
  language: string;
  relation: string;
  uuid: string;
  labels: string[];
  uris: (string | null)[];
}

export interface Problem {
  file: string;
  line: number;
  reason: string;
}

export interface MlamaFilter {
  languages?: readonly string[];
  relations?: readonly string[];
}

export interface LanguageFolder {
  language: string;
  dir: string;
  templatesFile: string | null;
  relationFiles: { relation: string; file: string }[];
}

const RELATION_FILE = /^(P\d+|place_of_birth|place_of_death|date_of_birth)\.jsonl$/;

/** Lists the language folders of an mLAMA root (or of a seeds folder in the same layout). */
export async function listLanguageFolders(root: string, filter: MlamaFilter = {}): Promise<LanguageFolder[]> {
  const rootStat = await stat(root).catch(() => null);
  if (!rootStat?.isDirectory()) throw new Error(`not a directory: ${root}`);
  const wanted = filter.languages ? new Set(filter.languages) : null;
  const wantedRelations = filter.relations ? new Set(filter.relations) : null;
  const folders: LanguageFolder[] = [];
  for (const entry of (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory() || (wanted && !wanted.has(entry.name))) continue;
    const dir = join(root, entry.name);
    const files = (await readdir(dir)).sort();
    const relationFiles = files
      .filter((f) => RELATION_FILE.test(f))
      .map((f) => ({ relation: f.slice(0, -".jsonl".length), file: join(dir, f) }))
      .filter((r) => !wantedRelations || wantedRelations.has(r.relation));
    const templatesFile = files.includes("templates.jsonl") ? join(dir, "templates.jsonl") : null;
    if (!templatesFile && relationFiles.length === 0) continue;
    folders.push({ language: entry.name, dir, templatesFile, relationFiles });
  }
  if (wanted) {
    const found = new Set(folders.map((f) => f.language));
    const missing = [...wanted].filter((l) => !found.has(l));
    if (missing.length) throw new Error(`language folder(s) not found in ${root}: ${missing.join(", ")}`);
  }
  return folders;
}

/**
 * Yields parsed JSON objects of a .jsonl file with their 1-based line numbers; bad JSON becomes a
 * Problem. With `convert`, every string of the object goes through it (zh: traditional →
 * simplified), and `converted` says whether that changed the line.
 */
export async function* readJsonLines(
  file: string,
  convert?: ((text: string) => string) | null,
): AsyncGenerator<{ line: number; value: Record<string, unknown>; converted: boolean } | { line: number; problem: string }> {
  const lines = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const text = n === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    try {
      const value: unknown = JSON.parse(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        yield { line: n, problem: "not a JSON object" };
      } else {
        let converted = false;
        const record = convert
          ? convertStrings(value as Record<string, unknown>, (s) => {
              const out = convert(s);
              converted ||= out !== s;
              return out;
            })
          : (value as Record<string, unknown>);
        yield { line: n, value: record, converted };
      }
    } catch (err) {
      yield { line: n, problem: `invalid JSON (${(err as Error).message})` };
    }
  }
}

function stringField(obj: Record<string, unknown>, key: string): string | Error {
  const v = obj[key];
  if (typeof v !== "string") return new Error(v === undefined ? `missing field "${key}"` : `field "${key}" is not a string`);
  if (v.trim() === "") return new Error(`field "${key}" is empty`);
  return v.trim();
}

/** Validates one template line: exactly one [X] and one [Y]. */
export function parseTemplate(language: string, obj: Record<string, unknown>): TemplateRecord | string {
  const relation = stringField(obj, "relation");
  if (relation instanceof Error) return relation.message;
  const template = stringField(obj, "template");
  if (template instanceof Error) return template.message;
  for (const slot of ["[X]", "[Y]"]) {
    const count = template.split(slot).length - 1;
    if (count !== 1) return `template must contain ${slot} exactly once (found ${count})`;
  }
  return { language, relation, template };
}

/** Validates one fact line of <relation>.jsonl. */
export function parseFact(language: string, relation: string, obj: Record<string, unknown>): FactRecord | string {
  const fields: Record<string, string> = {};
  for (const key of ["uuid", "sub_uri", "obj_uri", "sub_label", "obj_label"]) {
    const v = stringField(obj, key);
    if (v instanceof Error) return v.message;
    fields[key] = v;
  }
  if (obj.predicate_id !== undefined && obj.predicate_id !== relation) {
    return `predicate_id ${String(obj.predicate_id)} does not match file relation ${relation}`;
  }
  const lineId = obj.lineid;
  if (lineId !== undefined && (typeof lineId !== "number" || !Number.isInteger(lineId))) return `field "lineid" is not an integer`;
  return {
    language,
    relation,
    uuid: fields.uuid,
    lineId: typeof lineId === "number" ? lineId : null,
    subUri: fields.sub_uri,
    objUri: fields.obj_uri,
    subLabel: fields.sub_label,
    objLabel: fields.obj_label,
  };
}

/** Validates one line of a wrong-objects file: {uuid, wrong_objects: [labels], wrong_uris?: [...]}. */
export function parseWrongObjects(language: string, relation: string, obj: Record<string, unknown>): WrongObjectRecord | string {
  const uuid = stringField(obj, "uuid");
  if (uuid instanceof Error) return uuid.message;
  const labels = obj.wrong_objects;
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === "string" && l.trim() !== "")) {
    return `field "wrong_objects" must be a non-empty array of strings`;
  }
  const uris = obj.wrong_uris;
  if (uris !== undefined && (!Array.isArray(uris) || uris.length !== labels.length)) {
    return `field "wrong_uris" must be an array as long as "wrong_objects"`;
  }
  return {
    language,
    relation,
    uuid,
    labels: labels.map((l: string) => l.trim()),
    uris: Array.isArray(uris) ? uris.map((u) => (typeof u === "string" ? u : null)) : labels.map(() => null),
  };
}
