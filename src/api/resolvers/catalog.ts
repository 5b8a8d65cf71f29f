// Resolvers of the fact catalog: languages, relations, templates, facts, their labels, and search.
import * as catalog from "../../store/catalog.ts";
import { databaseReachable } from "../../store/client.ts";
import { searchLabels } from "../../store/search.ts";
import type { ApiContext } from "../context.ts";
import { badInput, notFound } from "../errors.ts";
import type { Resolvers } from "../generated/resolvers.ts";
import { present } from "../loaders.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";

const LANGUAGE_CODE = /^[a-z]{2,3}$/;
const RELATION_ID = /^(P\d+|place_of_birth|place_of_death)$/;
/** Longest searchFacts text, in characters. */
export const MAX_SEARCH_TEXT = 100;

export function checkLanguage(code: string, argument = "language"): string {
  if (!LANGUAGE_CODE.test(code)) throw badInput(`invalid language code ${JSON.stringify(code)} (expected e.g. "en")`, argument);
  return code;
}

export function checkRelationId(id: string, argument = "relation"): string {
  if (!RELATION_ID.test(id)) throw badInput(`invalid relation id ${JSON.stringify(id)} (expected a Wikidata property id such as "P17")`, argument);
  return id;
}

/** The relation, or NOT_FOUND (for fields that cannot be null). */
export async function requireRelation(ctx: ApiContext, id: string, argument = "relation") {
  const relation = await ctx.loaders.relation.load(checkRelationId(id, argument));
  if (!relation) throw notFound("relation", id);
  return relation;
}

async function requireLanguage(ctx: ApiContext, code: string, argument = "language"): Promise<string> {
  checkLanguage(code, argument);
  if (!(await catalog.languageExists(ctx.prisma, code))) throw notFound("language", code);
  return code;
}

export const catalogResolvers: Resolvers = {
  Query: {
    async health(_, __, ctx) {
      const database = await databaseReachable(ctx.pool);
      return { ok: database, database, version: ctx.version };
    },
    languages: (_, __, ctx) => catalog.listLanguages(ctx.prisma),
    relations: (_, __, ctx) => catalog.listRelations(ctx.prisma),
    relation: (_, args, ctx) => ctx.loaders.relation.load(checkRelationId(args.id, "id")),
    async facts(_, args, ctx) {
      const first = pageSize(args.first);
      const after = decodeCursor("fact", args.after);
      if (args.relation != null) await requireRelation(ctx, args.relation);
      if (args.language != null) await requireLanguage(ctx, args.language);
      const page = await catalog.factPage(ctx.prisma, { relation: args.relation, language: args.language, after, first });
      const edges = page.facts.map((node) => ({ cursor: encodeCursor("fact", node.id), node }));
      return {
        totalCount: page.totalCount,
        edges,
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null },
      };
    },
    fact: (_, args, ctx) => ctx.loaders.fact.load(args.id),
    async searchFacts(_, args, ctx) {
      const text = args.text.trim();
      if (!text || [...text].length > MAX_SEARCH_TEXT) throw badInput(`text must have 1 to ${MAX_SEARCH_TEXT} characters`, "text");
      const first = pageSize(args.first);
      return searchLabels(ctx.pool, {
        text,
        match: args.match ?? "SUBSTRING",
        language: args.language == null ? null : checkLanguage(args.language),
        relationId: args.relation == null ? null : checkRelationId(args.relation),
        first,
      });
    },
  },
  FactSearchHit: {
    fact: (hit, _, ctx) => present(ctx.loaders.fact.load(hit.factId), `fact ${hit.factId}`),
  },
  Relation: {
    async templates(relation, args, ctx) {
      const all = await ctx.loaders.templates.load(relation.id);
      const language = args.language == null ? null : checkLanguage(args.language);
      return all.filter((t) => language === null || t.languageCode === language);
    },
    factCount: (relation, _, ctx) => ctx.loaders.relationFactCount.load(relation.id),
  },
  Template: {
    language: (t) => t.languageCode,
  },
  Fact: {
    relation: (fact, _, ctx) => present(ctx.loaders.relation.load(fact.relationId), `relation ${fact.relationId}`),
    async labels(fact, args, ctx) {
      const labels = await ctx.loaders.labels.load(fact.id);
      if (!args.languages) return labels;
      const wanted = new Set(args.languages.map((l) => checkLanguage(l, "languages")));
      return labels.filter((l) => wanted.has(l.languageCode));
    },
    async wrongObjects(fact, args, ctx) {
      const language = checkLanguage(args.language);
      return (await ctx.loaders.wrongObjects.load(fact.id)).filter((w) => w.languageCode === language).map((w) => w.label);
    },
  },
  FactLabel: {
    language: (l) => l.languageCode,
  },
};
