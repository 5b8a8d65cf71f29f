// Resolvers of the fact catalog: languages, relations, templates, facts and their labels.
import type { Fact, FactLabel, Relation, Template } from "../../store/generated/client.ts";
import * as catalog from "../../store/catalog.ts";
import { databaseReachable } from "../../store/client.ts";
import type { ApiContext } from "../context.ts";
import { badInput, notFound } from "../errors.ts";
import { decodeCursor, encodeCursor, pageSize } from "../pagination.ts";

const LANGUAGE_CODE = /^[a-z]{2,3}$/;
const RELATION_ID = /^(P\d+|place_of_birth|place_of_death)$/;

export function checkLanguage(code: string, argument = "language"): string {
  if (!LANGUAGE_CODE.test(code)) throw badInput(`invalid language code ${JSON.stringify(code)} (expected e.g. "en")`, argument);
  return code;
}

export function checkRelationId(id: string, argument = "relation"): string {
  if (!RELATION_ID.test(id)) throw badInput(`invalid relation id ${JSON.stringify(id)} (expected a Wikidata property id such as "P17")`, argument);
  return id;
}

async function requireRelation(ctx: ApiContext, id: string): Promise<Relation> {
  const relation = await ctx.loaders.relation.load(checkRelationId(id, "id"));
  if (!relation) throw notFound("relation", id);
  return relation;
}

async function requireLanguage(ctx: ApiContext, code: string, argument = "language"): Promise<string> {
  checkLanguage(code, argument);
  if (!(await catalog.languageExists(ctx.prisma, code))) throw notFound("language", code);
  return code;
}

export const catalogResolvers = {
  Query: {
    async health(_: unknown, __: unknown, ctx: ApiContext) {
      const database = await databaseReachable(ctx.pool);
      return { ok: database, database, version: ctx.version };
    },
    languages: (_: unknown, __: unknown, ctx: ApiContext) => catalog.listLanguages(ctx.prisma),
    relations: (_: unknown, __: unknown, ctx: ApiContext) => catalog.listRelations(ctx.prisma),
    relation: (_: unknown, args: { id: string }, ctx: ApiContext) => requireRelation(ctx, args.id),
    async facts(
      _: unknown,
      args: { relation?: string | null; language?: string | null; first?: number | null; after?: string | null },
      ctx: ApiContext,
    ) {
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
    async fact(_: unknown, args: { id: string }, ctx: ApiContext) {
      const fact = await ctx.loaders.fact.load(args.id);
      if (!fact) throw notFound("fact", args.id);
      return fact;
    },
  },
  Relation: {
    async templates(relation: Relation, args: { language?: string | null }, ctx: ApiContext) {
      const all = await ctx.loaders.templates.load(relation.id);
      const language = args.language == null ? null : checkLanguage(args.language);
      return all.filter((t) => language === null || t.languageCode === language);
    },
    factCount: (relation: Relation, _: unknown, ctx: ApiContext) => ctx.loaders.relationFactCount.load(relation.id),
  },
  Template: {
    language: (t: Template) => t.languageCode,
  },
  Fact: {
    relation: (fact: Fact, _: unknown, ctx: ApiContext) => ctx.loaders.relation.load(fact.relationId),
    async labels(fact: Fact, args: { languages?: string[] | null }, ctx: ApiContext) {
      const labels = await ctx.loaders.labels.load(fact.id);
      if (!args.languages) return labels;
      const wanted = new Set(args.languages.map((l) => checkLanguage(l, "languages")));
      return labels.filter((l) => wanted.has(l.languageCode));
    },
    async wrongObjects(fact: Fact, args: { language: string }, ctx: ApiContext) {
      const language = checkLanguage(args.language);
      return (await ctx.loaders.wrongObjects.load(fact.id)).filter((w) => w.languageCode === language).map((w) => w.label);
    },
  },
  FactLabel: {
    language: (l: FactLabel) => l.languageCode,
  },
};
