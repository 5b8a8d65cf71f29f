// Template sets for evaluating the demo models on the seed facts. The demo models are trained on
// each fact's seed template and on paraphrases (src/train/paraphrases.ts); the paraphrases below
// are held out of that training, so an evaluation can ask whether what a model stores, and what
// attribution and edits find, carries over to wording it never saw (Niu et al., arXiv 2405.02421).

/**
 * One phrasing per relation and language, [Y] final (a causal model reads the prompt up to it),
 * never in the training corpus and not seen by the
 * tokenizer builder either: a held-out word the vocabulary lacks is split into smaller pieces
 * (or is [UNK] for a character WordPiece never saw), as any unseen text would be.
 */
export const HELD_OUT_PARAPHRASES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  P17: {
    en: ["[X] lies in the country [Y] ."],
    zh: ["[X]所在的国家是[Y]。"],
    fr: ["[X] est un lieu du pays suivant : [Y] ."],
    de: ["Das Land von [X] ist [Y] ."],
    es: ["[X] es un lugar del país [Y] ."],
    ru: ["Страна, где находится [X], — [Y] ."],
  },
  P19: {
    en: ["[X] was born in the city of [Y] ."],
    zh: ["[X]生于[Y]。"],
    fr: ["[X] a vu le jour à [Y] ."],
    de: ["[X] kam zur Welt in [Y] ."],
    es: ["[X] vino al mundo en [Y] ."],
    ru: ["[X] появился на свет в городе [Y] ."],
  },
  P27: {
    en: ["[X] holds citizenship of [Y] ."],
    zh: ["[X]持有的国籍为[Y]。"],
    fr: ["[X] a la citoyenneté du pays suivant : [Y] ."],
    de: ["[X] besitzt die Staatsbürgerschaft von [Y] ."],
    es: ["[X] tiene la ciudadanía de [Y] ."],
    ru: ["[X] имеет гражданство страны [Y] ."],
  },
  P30: {
    en: ["[X] is part of the continent [Y] ."],
    zh: ["[X]属于[Y]。"],
    fr: ["[X] fait partie du continent suivant : [Y] ."],
    de: ["[X] gehört zum Kontinent [Y] ."],
    es: ["[X] forma parte del continente [Y] ."],
    ru: ["[X] расположен на континенте [Y] ."],
  },
  P36: {
    en: ["[X] has its capital in [Y] ."],
    zh: ["[X]首都为[Y]。"],
    fr: ["La ville capitale de [X] est [Y] ."],
    de: ["Hauptstadt von [X] ist [Y] ."],
    es: ["La ciudad capital de [X] es [Y] ."],
    ru: ["Главный город страны [X] — [Y] ."],
  },
  P37: {
    en: ["[X] has the official language [Y] ."],
    zh: ["[X]官方使用[Y]。"],
    fr: ["Dans le pays [X] , la langue officielle est le [Y] ."],
    de: ["[X] hat die Amtssprache [Y] ."],
    es: ["En [X] el idioma oficial es el [Y] ."],
    ru: ["В стране [X] официальный язык — [Y] ."],
  },
  P103: {
    en: ["[X] is a native speaker of [Y] ."],
    zh: ["[X]从小说[Y]。"],
    fr: ["La langue natale de [X] est le [Y] ."],
    de: ["Die Erstsprache von [X] ist [Y] ."],
    es: ["La lengua nativa de [X] es el [Y] ."],
    ru: ["[X] с детства говорит на языке: [Y] ."],
  },
  P1412: {
    en: ["The language used by [X] is [Y] ."],
    zh: ["[X]讲[Y]。"],
    fr: ["La langue parlée par [X] est le [Y] ."],
    de: ["Die Sprache von [X] war [Y] ."],
    es: ["El idioma de [X] era el [Y] ."],
    ru: ["Язык, на котором говорил [X], — [Y] ."],
  },
  P138: {
    en: ["The name of [X] comes from [Y] ."],
    zh: ["[X]得名于[Y]。"],
    fr: ["Le nom de [X] vient de [Y] ."],
    de: ["Der Name von [X] stammt von [Y] ."],
    es: ["El nombre de [X] proviene de [Y] ."],
    ru: ["Название [X] происходит от: [Y] ."],
  },
  P364: {
    en: ["The film [X] is in [Y] ."],
    zh: ["[X]使用的原始语言为[Y]。"],
    fr: ["La version originale de [X] est en [Y] ."],
    de: ["[X] wurde gedreht auf [Y] ."],
    es: ["La versión original de [X] está en [Y] ."],
    ru: ["Оригинальный язык фильма [X] — [Y] ."],
  },
  P159: {
    en: ["The head office of [X] is in [Y] ."],
    zh: ["[X]的总公司位于[Y]。"],
    fr: ["Le siège social de [X] est à [Y] ."],
    de: ["[X] sitzt in [Y] ."],
    es: ["La oficina central de [X] está en [Y] ."],
    ru: ["Компания [X] базируется в городе [Y] ."],
  },
  P176: {
    en: ["The manufacturer of [X] is [Y] ."],
    zh: ["[X]的生产商为[Y]。"],
    fr: ["Le fabricant de [X] est [Y] ."],
    de: ["Der Hersteller von [X] ist [Y] ."],
    es: ["El fabricante de [X] es [Y] ."],
    ru: ["Производитель [X] — [Y] ."],
  },
};

/**
 * Which phrasings an evaluation uses: "trained" is each fact's seed template (the one the demo
 * models are trained and judged on), "heldout" the held-out paraphrases of its relation and
 * language (one fact item per held-out template).
 */
export type TemplateSet = "trained" | "heldout";
export const TEMPLATE_SETS: readonly TemplateSet[] = ["trained", "heldout"];

export function heldOutTemplates(relation: string, language: string): readonly string[] {
  return HELD_OUT_PARAPHRASES[relation]?.[language] ?? [];
}

/** The facts re-stated in the chosen template set (the seed template replaced for "heldout"). */
export function withTemplates<F extends { language: string; template: string }>(facts: readonly F[], set: TemplateSet, relationOf: (f: F) => string): F[] {
  if (set === "trained") return [...facts];
  return facts.flatMap((f) => heldOutTemplates(relationOf(f), f.language).map((template) => ({ ...f, template })));
}

/** Parses a --templates value. */
export function parseTemplateSet(value: string): TemplateSet | undefined {
  return (TEMPLATE_SETS as readonly string[]).includes(value) ? (value as TemplateSet) : undefined;
}
