// Read queries over the fact catalog (languages, relations, templates, facts, labels), shaped
// for batching: every "by id" function takes many ids at once so the API's DataLoaders issue
// one query per request level, never one per row.
import type { Pool } from "pg";
import { named } from "./client.ts";
import type { Fact, FactLabel, PrismaClient, Relation, Template, WrongObject } from "./generated/client.ts";

export interface LanguageRow {
  code: string;
  name: string;
  factCount: number;
}

export async function listLanguages(prisma: PrismaClient): Promise<LanguageRow[]> {
  const rows = await prisma.$queryRaw<{ code: string; name: string; fact_count: bigint }[]>`
    SELECT l.code, l.name, (SELECT count(*) FROM fact_label fl WHERE fl.language_code = l.code) AS fact_count
    FROM language l
    WHERE EXISTS (SELECT 1 FROM fact_label fl WHERE fl.language_code = l.code)
       OR EXISTS (SELECT 1 FROM template t WHERE t.language_code = l.code)
    ORDER BY l.code`;
  return rows.map((r) => ({ code: r.code, name: r.name, factCount: Number(r.fact_count) }));
}

export async function languageExists(prisma: PrismaClient, code: string): Promise<boolean> {
  return (await prisma.language.count({ where: { code } })) > 0;
}

export async function listRelations(prisma: PrismaClient) {
  const rows = await prisma.relation.findMany();
  // P-ids sort numerically (P17 before P103), then the Google-RE names.
  const key = (id: string) => (/^P\d+$/.test(id) ? Number(id.slice(1)) : Number.MAX_SAFE_INTEGER);
  return rows.sort((a, b) => key(a.id) - key(b.id) || a.id.localeCompare(b.id));
}

/** Relations by id, through pg (see factsByIds). */
export async function relationsByIds(pool: Pool, ids: readonly string[]): Promise<Relation[]> {
  const { rows } = await pool.query<Relation>(named(`SELECT id, key, label FROM relation WHERE id = ANY($1::text[])`, [[...ids]]));
  return rows;
}

export async function factCountsByRelation(prisma: PrismaClient, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await prisma.fact.groupBy({ by: ["relationId"], where: { relationId: { in: [...ids] } }, _count: { _all: true } });
  return new Map(rows.map((r) => [r.relationId, r._count._all]));
}

export async function templatesByRelation(prisma: PrismaClient, relationIds: readonly string[]): Promise<Template[]> {
  return prisma.template.findMany({
    where: { relationId: { in: [...relationIds] } },
    orderBy: [{ relationId: "asc" }, { languageCode: "asc" }, { id: "asc" }],
  });
}

/** Facts by id, through pg (every fact-level API request resolves its fact here; see checkpointsByNames). */
export async function factsByIds(pool: Pool, ids: readonly string[]): Promise<Fact[]> {
  const { rows } = await pool.query<Fact>(
    named(`SELECT id, key, relation_id AS "relationId", subject_uri AS "subjectUri", object_uri AS "objectUri" FROM fact WHERE id = ANY($1::text[])`, [[...ids]]),
  );
  return rows;
}

export async function labelsByFacts(prisma: PrismaClient, factIds: readonly string[]): Promise<FactLabel[]> {
  return prisma.factLabel.findMany({ where: { factId: { in: [...factIds] } }, orderBy: [{ factId: "asc" }, { languageCode: "asc" }] });
}

export async function wrongObjectsByFacts(prisma: PrismaClient, factIds: readonly string[]): Promise<WrongObject[]> {
  return prisma.wrongObject.findMany({ where: { factId: { in: [...factIds] } }, orderBy: [{ factId: "asc" }, { rank: "asc" }] });
}

export interface FactPageQuery {
  relation?: string | null;
  language?: string | null;
  after?: string | null; // fact id of the cursor
  first: number;
}

/** One page of facts ordered by id, plus the total count under the same filter. */
export async function factPage(prisma: PrismaClient, q: FactPageQuery): Promise<{ facts: Fact[]; totalCount: number; hasNextPage: boolean }> {
  const where = {
    ...(q.relation ? { relationId: q.relation } : {}),
    ...(q.language ? { labels: { some: { languageCode: q.language } } } : {}),
  };
  const [rows, totalCount] = await Promise.all([
    prisma.fact.findMany({
      where: { ...where, ...(q.after ? { id: { gt: q.after } } : {}) },
      orderBy: { id: "asc" },
      take: q.first + 1,
    }),
    prisma.fact.count({ where }),
  ]);
  return { facts: rows.slice(0, q.first), totalCount, hasNextPage: rows.length > q.first };
}
