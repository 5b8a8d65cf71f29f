// Idempotent bulk import of an mLAMA 1.1 folder (or the seeds, same layout) into PostgreSQL.
// Lines are streamed and written in batches through INSERT ... SELECT FROM unnest(...) with
// ON CONFLICT, so re-running an import changes no row count and a malformed line never
// touches what is stored.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Pool, PoolClient } from "pg";
import { withTransaction } from "./client.ts";
import { scriptConverter } from "../data/chinese.ts";
import { languageName } from "../data/languages.ts";
import {
  type FactRecord,
  type MlamaFilter,
  type Problem,
  type WrongObjectRecord,
  listLanguageFolders,
  parseFact,
  parseTemplate,
  parseWrongObjects,
  readJsonLines,
} from "../data/mlama.ts";
import { relationLabel } from "../data/relations.ts";
import { objectSlotIsFinal } from "../data/templates.ts";

export interface ImportProgress {
  bytesDone: number;
  bytesTotal: number;
  file: string;
}

export interface ImportOptions extends MlamaFilter {
  batchSize?: number;
  onProgress?: (p: ImportProgress) => void;
}

/**
 * Templates of one relation and language whose [Y] is not final. Masked models use them;
 * causal models skip them (README "Templates whose object slot is not final"), so the facts of
 * the relation have no causal prompt in that language unless another template ends with [Y].
 */
export interface NonFinalObjectSlot {
  language: string;
  relation: string;
  /** Templates of the relation in the language (this import), and how many have [Y] not final. */
  templates: number;
  nonFinal: number;
  /** Fact lines of the relation imported in the language. */
  facts: number;
  /** True when every template is non-final: causal models have no prompt for these facts. */
  noCausalTemplate: boolean;
}

export interface ImportSummary {
  languages: number;
  relations: number;
  templates: { seen: number; inserted: number };
  facts: { seen: number; inserted: number };
  labels: { seen: number; inserted: number; updated: number };
  wrongObjects: { seen: number; inserted: number };
  /** zh lines read and how many of them traditional → simplified conversion changed (OpenCC t2s). */
  simplified: { lines: number; converted: number };
  objectSlotNotFinal: NonFinalObjectSlot[];
  problems: Problem[];
}

interface Counter {
  seen: number;
  inserted: number;
}

function emptySummary(): ImportSummary {
  return {
    languages: 0,
    relations: 0,
    templates: { seen: 0, inserted: 0 },
    facts: { seen: 0, inserted: 0 },
    labels: { seen: 0, inserted: 0, updated: 0 },
    wrongObjects: { seen: 0, inserted: 0 },
    simplified: { lines: 0, converted: 0 },
    objectSlotNotFinal: [],
    problems: [],
  };
}

/** The lines of a file, converted to simplified characters for zh and counted in the summary. */
async function* readLines(file: string, language: string, summary: ImportSummary) {
  const convert = scriptConverter(language);
  for await (const item of readJsonLines(file, convert)) {
    if (convert && "value" in item) {
      summary.simplified.lines++;
      if (item.converted) summary.simplified.converted++;
    }
    yield item;
  }
}

async function upsertLanguagesAndRelations(db: Pool | PoolClient, languages: string[], relations: string[]): Promise<void> {
  if (languages.length) {
    await db.query(
      `INSERT INTO language (code, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (code) DO NOTHING`,
      [languages, languages.map(languageName)],
    );
  }
  if (relations.length) {
    await db.query(
      `INSERT INTO relation (id, label) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING`,
      [relations, relations.map(relationLabel)],
    );
  }
}

/** Sums file sizes so progress can be shown in bytes, the only unit known before reading. */
async function totalBytes(files: string[]): Promise<number> {
  const sizes = await Promise.all(files.map((f) => stat(f).then((s) => s.size)));
  return sizes.reduce((a, b) => a + b, 0);
}

export async function importMlama(pool: Pool, root: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? 2000;
  const folders = await listLanguageFolders(root, options);
  const summary = emptySummary();
  const relationIds = new Set<string>();
  for (const f of folders) for (const r of f.relationFiles) relationIds.add(r.relation);

  const files = folders.flatMap((f) => [...(f.templatesFile ? [f.templatesFile] : []), ...f.relationFiles.map((r) => r.file)]);
  const bytesTotal = await totalBytes(files);
  let bytesDone = 0;
  const fileDone = async (file: string) => {
    bytesDone += (await stat(file)).size;
    options.onProgress?.({ bytesDone, bytesTotal, file });
  };

  await upsertLanguagesAndRelations(pool, folders.map((f) => f.language), [...relationIds]);
  summary.languages = folders.length;

  for (const folder of folders) {
    let templates: { relation: string; template: string }[] = [];
    if (folder.templatesFile) {
      templates = await importTemplates(pool, folder.language, folder.templatesFile, options, summary, relationIds);
      await fileDone(folder.templatesFile);
    }
    for (const { relation, file } of folder.relationFiles) {
      const factsBefore = summary.facts.seen;
      let batch: { rec: FactRecord; line: number }[] = [];
      for await (const item of readLines(file, folder.language, summary)) {
        if ("problem" in item) {
          summary.problems.push({ file, line: item.line, reason: item.problem });
          continue;
        }
        const rec = parseFact(folder.language, relation, item.value);
        if (typeof rec === "string") {
          summary.problems.push({ file, line: item.line, reason: rec });
          continue;
        }
        batch.push({ rec, line: item.line });
        if (batch.length >= batchSize) {
          await writeFactBatch(pool, file, batch, summary);
          batch = [];
        }
      }
      if (batch.length) await writeFactBatch(pool, file, batch, summary);
      countNonFinalSlots(summary, folder.language, relation, templates, summary.facts.seen - factsBefore);
      await fileDone(file);
    }
  }
  summary.relations = relationIds.size;
  return summary;
}

function countNonFinalSlots(
  summary: ImportSummary,
  language: string,
  relation: string,
  templates: readonly { relation: string; template: string }[],
  facts: number,
): void {
  const own = templates.filter((t) => t.relation === relation);
  const nonFinal = own.filter((t) => !objectSlotIsFinal(t.template)).length;
  if (nonFinal) summary.objectSlotNotFinal.push({ language, relation, templates: own.length, nonFinal, facts, noCausalTemplate: nonFinal === own.length });
}

async function importTemplates(
  pool: Pool,
  language: string,
  file: string,
  filter: MlamaFilter,
  summary: ImportSummary,
  relationIds: Set<string>,
): Promise<{ relation: string; template: string }[]> {
  const wanted = filter.relations ? new Set(filter.relations) : null;
  const rows: { relation: string; template: string }[] = [];
  for await (const item of readLines(file, language, summary)) {
    if ("problem" in item) {
      summary.problems.push({ file, line: item.line, reason: item.problem });
      continue;
    }
    const rec = parseTemplate(language, item.value);
    if (typeof rec === "string") {
      summary.problems.push({ file, line: item.line, reason: rec });
      continue;
    }
    if (wanted && !wanted.has(rec.relation)) continue;
    rows.push(rec);
  }
  if (!rows.length) return rows;
  const newRelations = [...new Set(rows.map((r) => r.relation))].filter((r) => !relationIds.has(r));
  await upsertLanguagesAndRelations(pool, [], newRelations);
  newRelations.forEach((r) => relationIds.add(r));
  const res = await pool.query(
    `INSERT INTO template (relation_id, language_code, text)
     SELECT r, $3, t FROM unnest($1::text[], $2::text[]) AS u(r, t)
     ON CONFLICT (relation_id, language_code, text) DO NOTHING`,
    [rows.map((r) => r.relation), rows.map((r) => r.template), language],
  );
  summary.templates.seen += rows.length;
  summary.templates.inserted += res.rowCount ?? 0;
  return rows;
}

async function writeFactBatch(
  pool: Pool,
  file: string,
  batch: { rec: FactRecord; line: number }[],
  summary: ImportSummary,
): Promise<void> {
  // A uuid repeated inside one batch would make ON CONFLICT touch a row twice: the last line wins.
  const byUuid = new Map<string, { rec: FactRecord; line: number }>();
  for (const item of batch) byUuid.set(item.rec.uuid, item);
  const items = [...byUuid.values()];

  await withTransaction(pool, async (db) => {
    // A uuid already stored under another relation is a conflict: report it, store nothing for it.
    const clash = await db.query<{ id: string; relation_id: string }>(
      `SELECT f.id, f.relation_id FROM fact f JOIN unnest($1::text[], $2::text[]) AS u(id, rel) ON f.id = u.id
       WHERE f.relation_id <> u.rel`,
      [items.map((i) => i.rec.uuid), items.map((i) => i.rec.relation)],
    );
    const clashing = new Map(clash.rows.map((r) => [r.id, r.relation_id]));
    const good = items.filter((i) => !clashing.has(i.rec.uuid));
    for (const i of items) {
      const other = clashing.get(i.rec.uuid);
      if (other) summary.problems.push({ file, line: i.line, reason: `uuid ${i.rec.uuid} is already stored for relation ${other}` });
    }
    if (!good.length) return;
    const recs = good.map((g) => g.rec);

    const facts = await db.query(
      `INSERT INTO fact (id, relation_id, subject_uri, object_uri)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
       ON CONFLICT (id) DO NOTHING`,
      [recs.map((r) => r.uuid), recs.map((r) => r.relation), recs.map((r) => r.subUri), recs.map((r) => r.objUri)],
    );
    const labels = await db.query<{ inserted: boolean }>(
      `INSERT INTO fact_label (fact_id, language_code, subject, object, line_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
       ON CONFLICT (fact_id, language_code) DO UPDATE
         SET subject = EXCLUDED.subject, object = EXCLUDED.object, line_id = EXCLUDED.line_id
         WHERE (fact_label.subject, fact_label.object, fact_label.line_id)
               IS DISTINCT FROM (EXCLUDED.subject, EXCLUDED.object, EXCLUDED.line_id)
       RETURNING (xmax = 0) AS inserted`,
      [
        recs.map((r) => r.uuid),
        recs.map((r) => r.language),
        recs.map((r) => r.subLabel),
        recs.map((r) => r.objLabel),
        recs.map((r) => r.lineId),
      ],
    );
    summary.facts.seen += recs.length;
    summary.facts.inserted += facts.rowCount ?? 0;
    summary.labels.seen += recs.length;
    for (const row of labels.rows) {
      if (row.inserted) summary.labels.inserted++;
      else summary.labels.updated++;
    }
  });
}

/**
 * Imports wrong-object candidates (<root>/<lang>/<relation>.jsonl with {uuid, wrong_objects,
 * wrong_uris}). A fact's candidates in a language are replaced as a whole, so re-imports are
 * idempotent; candidates for unknown facts are reported, not stored.
 */
export async function importWrongObjects(pool: Pool, root: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const folders = await listLanguageFolders(root, options);
  const summary = emptySummary();
  const files = folders.flatMap((f) => f.relationFiles.map((r) => r.file));
  const bytesTotal = await totalBytes(files);
  let bytesDone = 0;
  await upsertLanguagesAndRelations(pool, folders.map((f) => f.language), []);
  summary.languages = folders.length;
  for (const folder of folders) {
    for (const { relation, file } of folder.relationFiles) {
      const batch: { rec: WrongObjectRecord; line: number }[] = [];
      for await (const item of readLines(file, folder.language, summary)) {
        if ("problem" in item) {
          summary.problems.push({ file, line: item.line, reason: item.problem });
          continue;
        }
        const rec = parseWrongObjects(folder.language, relation, item.value);
        if (typeof rec === "string") summary.problems.push({ file, line: item.line, reason: rec });
        else batch.push({ rec, line: item.line });
      }
      for (let i = 0; i < batch.length; i += options.batchSize ?? 2000) {
        await writeWrongObjectBatch(pool, file, batch.slice(i, i + (options.batchSize ?? 2000)), summary);
      }
      bytesDone += (await stat(file)).size;
      options.onProgress?.({ bytesDone, bytesTotal, file: join(folder.language, relation) });
    }
  }
  return summary;
}

async function writeWrongObjectBatch(
  pool: Pool,
  file: string,
  batch: { rec: WrongObjectRecord; line: number }[],
  summary: ImportSummary,
): Promise<void> {
  await withTransaction(pool, async (db) => {
    const known = await db.query<{ id: string }>(`SELECT id FROM fact WHERE id = ANY($1::text[])`, [batch.map((b) => b.rec.uuid)]);
    const knownIds = new Set(known.rows.map((r) => r.id));
    const good = batch.filter((b) => knownIds.has(b.rec.uuid));
    for (const b of batch) {
      if (!knownIds.has(b.rec.uuid)) summary.problems.push({ file, line: b.line, reason: `unknown fact uuid ${b.rec.uuid} (import the facts first)` });
    }
    if (!good.length) return;
    const language = good[0].rec.language;
    await db.query(`DELETE FROM wrong_object WHERE language_code = $2 AND fact_id = ANY($1::text[])`, [good.map((g) => g.rec.uuid), language]);
    const rows = good.flatMap((g) => g.rec.labels.map((label, rank) => ({ uuid: g.rec.uuid, rank, label, uri: g.rec.uris[rank] })));
    const res = await db.query(
      `INSERT INTO wrong_object (fact_id, language_code, rank, label, object_uri)
       SELECT f, $5, r, l, u FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS x(f, r, l, u)`,
      [rows.map((r) => r.uuid), rows.map((r) => r.rank), rows.map((r) => r.label), rows.map((r) => r.uri), language],
    );
    summary.wrongObjects.seen += good.length;
    summary.wrongObjects.inserted += res.rowCount ?? 0;
  });
}
