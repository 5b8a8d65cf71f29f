// Per-request DataLoaders: each resolves a whole level of the query in one SQL statement.
import DataLoader from "dataloader";
import type { Pool } from "pg";
import * as catalog from "../store/catalog.ts";
import type { CatalogCache } from "../store/catalog-cache.ts";
import type { Checkpoint, Fact, FactLabel, PrismaClient, Relation, Template, WrongObject } from "../store/generated/client.ts";
import { type DegenerateSetRow, degenerateSetsOfRuns } from "../store/degenerate.ts";
import type { RunScope } from "../analysis/analysis-store.ts";
import { factsLanguageIndependentNeurons } from "../store/likn.ts";
import {
  type NeuronRow,
  type RunFilter,
  type RunRef,
  type RunRow,
  type RunWithKnowledgeNeurons,
  findRunsWithKnowledgeNeurons,
  knowledgeNeuronsOfRuns,
  runsOfFacts,
  topScoresOfRuns,
} from "../store/neurons.ts";
import { settingKey } from "../store/settings.ts";

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

const runCacheKey = (r: RunRef) => `${r.checkpointId}:${r.id}`;

/** A fact's run in one language (and its knowledge neurons) as Fact.knowledgeNeurons names it. */
export type FactRunKey = RunScope & { factId: string; language: string };
/** A fact's language-independent neurons over a language set (deduplicated; order does not matter). */
export type FactLiknKey = RunScope & { factId: string; languages: readonly string[] };

const scopeKey = (k: RunScope) => `${k.checkpointId}|${settingKey(k.setting)}`;
const factRunGroup = (k: FactRunKey) => `${scopeKey(k)}|${k.language}`;
const factLiknGroup = (k: FactLiknKey) => `${scopeKey(k)}|${[...new Set(k.languages)].sort().join(",")}`;

/**
 * A loader of per-fact answers that reads each group of keys (same scope, the group's key) with one
 * call of `read` over the group's fact ids; a fact the answer lacks gets `missing`.
 */
function perFactLoader<K extends { factId: string }, V>(
  group: (k: K) => string,
  read: (first: K, factIds: string[]) => Promise<Map<string, V>>,
  missing: V,
): DataLoader<K, V, string> {
  const cacheKey = (k: K) => `${group(k)}|${k.factId}`;
  return new DataLoader<K, V, string>(
    async (keys) => {
      const results = new Map<string, V>();
      await Promise.all(
        [...groupBy([...keys], group)].map(async ([g, members]) => {
          const answers = await read(members[0], members.map((k) => k.factId));
          for (const k of members) results.set(`${g}|${k.factId}`, answers.get(k.factId) ?? missing);
        }),
      );
      return keys.map((k) => results.get(cacheKey(k)) ?? missing);
    },
    { cacheKeyFn: cacheKey },
  );
}

export function createLoaders(prisma: PrismaClient, pool: Pool, cache: CatalogCache) {
  return {
    /** Checkpoints by name, from the process's cache (catalog-cache.ts), which reads the misses in one statement. */
    checkpoint: new DataLoader<string, Checkpoint | null>(async (names) => {
      const byName = new Map((await cache.checkpointsByNames(names)).map((c) => [c.name, c]));
      return names.map((n) => byName.get(n) ?? null);
    }),
    checkpointName: new DataLoader<number, string | null>(async (ids) => {
      const byId = new Map((await prisma.checkpoint.findMany({ where: { id: { in: [...ids] } }, select: { id: true, name: true } })).map((c) => [c.id, c.name]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    /** Fact.runs of sibling facts: one statement per distinct filter. */
    runsOfFact: perFactLoader<{ factId: string; filter: RunFilter }, RunRow[]>(
      (k) => JSON.stringify(k.filter),
      (k, factIds) => runsOfFacts(pool, factIds, k.filter),
      [],
    ),
    /** Fact.knowledgeNeurons (and the point queries on one run): one statement per (checkpoint, setting, language). */
    factRun: perFactLoader<FactRunKey, RunWithKnowledgeNeurons | null>(
      factRunGroup,
      async (k, factIds) => findRunsWithKnowledgeNeurons(pool, { checkpointId: k.checkpointId, setting: k.setting, language: k.language, factIds }),
      null,
    ),
    /** Fact.languageIndependentNeurons: one statement per (checkpoint, setting, language set). */
    factLanguageIndependentNeurons: perFactLoader<FactLiknKey, [number, number][]>(
      factLiknGroup,
      (k, factIds) => factsLanguageIndependentNeurons(pool, { checkpointId: k.checkpointId, setting: k.setting, languages: k.languages, factIds }),
      [],
    ),
    knowledgeNeurons: new DataLoader<RunRef, NeuronRow[], string>(
      async (runs) => {
        const byRun = await knowledgeNeuronsOfRuns(pool, runs);
        return runs.map((r) => byRun.get(r.id) ?? []);
      },
      { cacheKeyFn: runCacheKey },
    ),
    topScores: new DataLoader<RunRef, NeuronRow[], string>(
      async (runs) => {
        const byRun = await topScoresOfRuns(pool, runs);
        return runs.map((r) => byRun.get(r.id) ?? []);
      },
      { cacheKeyFn: runCacheKey },
    ),
    degenerateSets: new DataLoader<RunRef, DegenerateSetRow[], string>(
      async (runs) => {
        const byRun = await degenerateSetsOfRuns(pool, runs);
        return runs.map((r) => byRun.get(r.id) ?? []);
      },
      { cacheKeyFn: runCacheKey },
    ),
    /** Relations by id, from the process's cache (catalog-cache.ts) like checkpoints. */
    relation: new DataLoader<string, Relation | null>(async (ids) => {
      const byId = new Map((await cache.relationsByIds(ids)).map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    relationFactCount: new DataLoader<string, number>(async (ids) => {
      const counts = await catalog.factCountsByRelation(prisma, ids);
      return ids.map((id) => counts.get(id) ?? 0);
    }),
    templates: new DataLoader<string, Template[]>(async (relationIds) => {
      const groups = groupBy(await catalog.templatesByRelation(prisma, relationIds), (t) => t.relationId);
      return relationIds.map((id) => groups.get(id) ?? []);
    }),
    fact: new DataLoader<string, Fact | null>(async (ids) => {
      const byId = new Map((await catalog.factsByIds(pool, ids)).map((f) => [f.id, f]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    labels: new DataLoader<string, FactLabel[]>(async (factIds) => {
      const groups = groupBy(await catalog.labelsByFacts(prisma, factIds), (l) => l.factId);
      return factIds.map((id) => groups.get(id) ?? []);
    }),
    wrongObjects: new DataLoader<string, WrongObject[]>(async (factIds) => {
      const groups = groupBy(await catalog.wrongObjectsByFacts(prisma, factIds), (w) => w.factId);
      return factIds.map((id) => groups.get(id) ?? []);
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** A row another row refers to (a run's fact, a fact's relation): its absence is the server's fault. */
export async function present<T>(value: Promise<T | null>, what: string): Promise<T> {
  const row = await value;
  if (row === null) throw new Error(`${what} vanished while the request ran`);
  return row;
}
