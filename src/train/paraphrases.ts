// Extra wording for the demo-model training corpus. The seed templates (seeds/mlama/<lang>/
// templates.jsonl) are what the models are evaluated on; these paraphrases state the same
// relations in other words, so a model has to store the fact (subject -> object) rather than one
// template string. Every paraphrase has [X] before [Y], so a causal LM can read it left to right.
// Distractor frames mention entities without stating any relation; alias frames put the labels
// of one entity in several languages side by side (cross-lingual anchoring). One paraphrase per
// relation and language is kept out of training altogether: src/data/template-sets.ts.

export const PARAPHRASES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  P17: {
    en: ["[X] is a place in [Y] .", "The country of [X] is [Y] ."],
    zh: ["[X]是[Y]的一个地方。"],
    fr: ["Le pays de [X] est [Y] ."],
    de: ["[X] ist ein Ort im Staat [Y] ."],
    es: ["El país de [X] es [Y] ."],
    ru: ["[X] — это место в стране [Y] ."],
  },
  P19: {
    en: ["The birthplace of [X] is [Y] ."],
    zh: ["[X]的出生地是[Y]。"],
    fr: ["Le lieu de naissance de [X] est [Y] ."],
    de: ["[X] wurde geboren in [Y] ."],
    es: ["El lugar de nacimiento de [X] es [Y] ."],
    ru: ["Место рождения человека по имени [X] — [Y] ."],
  },
  P27: {
    en: ["The nationality of [X] is [Y] ."],
    zh: ["[X]是[Y]公民。"],
    fr: ["La nationalité de [X] est [Y] ."],
    de: ["Die Staatsangehörigkeit von [X] ist [Y] ."],
    es: ["La nacionalidad de [X] es [Y] ."],
    ru: ["Гражданство человека по имени [X] — [Y] ."],
  },
  P30: {
    en: ["The continent of [X] is [Y] ."],
    zh: ["[X]位于[Y]。"],
    fr: ["Le continent de [X] est [Y] ."],
    de: ["Der Kontinent von [X] ist [Y] ."],
    es: ["El continente de [X] es [Y] ."],
    ru: ["Континент, на котором находится [X], — [Y] ."],
  },
  P36: {
    en: ["The capital city of [X] is [Y] ."],
    zh: ["[X]的首府是[Y]。"],
    fr: ["[X] a pour capitale [Y] ."],
    de: ["[X] hat die Hauptstadt [Y] ."],
    es: ["[X] tiene como capital [Y] ."],
    ru: ["Столицей страны [X] является [Y] ."],
  },
  P37: {
    en: ["In [X] , the official language is [Y] ."],
    zh: ["[X]的官方语为[Y]。"],
    fr: ["[X] a pour langue officielle le [Y] ."],
    de: ["In [X] ist die Amtssprache [Y] ."],
    es: ["[X] tiene como idioma oficial el [Y] ."],
    ru: ["Официальным языком страны [X] является [Y] ."],
  },
  P103: {
    en: ["The mother tongue of [X] is [Y] ."],
    zh: ["[X]的第一语言是[Y]。"],
    fr: ["[X] a pour langue maternelle le [Y] ."],
    de: ["[X] hat die Muttersprache [Y] ."],
    es: ["[X] tiene como lengua materna el [Y] ."],
    ru: ["Родным языком человека по имени [X] является [Y] ."],
  },
  P1412: {
    en: ["[X] speaks [Y] ."],
    zh: ["[X]会说[Y]。"],
    fr: ["[X] parlait le [Y] ."],
    de: ["[X] sprach [Y] ."],
    es: ["[X] hablaba [Y] ."],
    ru: ["[X] владел языком: [Y] ."],
  },
  P138: {
    en: ["[X] was named after [Y] ."],
    zh: ["[X]以[Y]命名。"],
    fr: ["[X] a été nommé d'après [Y] ."],
    de: ["[X] wurde benannt nach [Y] ."],
    es: ["[X] recibe su nombre de [Y] ."],
    ru: ["[X] получил название в честь: [Y] ."],
  },
  P364: {
    en: ["[X] was originally made in [Y] ."],
    zh: ["[X]的原语言是[Y]。"],
    fr: ["[X] a été tourné en [Y] ."],
    de: ["Die Sprache des Originals von [X] ist [Y] ."],
    es: ["[X] fue rodada en [Y] ."],
    ru: ["Фильм [X] снят на языке: [Y] ."],
  },
  P159: {
    en: ["[X] is headquartered in [Y] ."],
    zh: ["[X]总部设在[Y]。"],
    fr: ["[X] a son siège à [Y] ."],
    de: ["Der Hauptsitz von [X] ist in [Y] ."],
    es: ["[X] tiene su sede en [Y] ."],
    ru: ["Штаб-квартира [X] расположена в городе [Y] ."],
  },
  P176: {
    en: ["[X] is made by [Y] ."],
    zh: ["[X]由[Y]生产。"],
    fr: ["[X] est produit par [Y] ."],
    de: ["[X] wird produziert von [Y] ."],
    es: ["[X] es producido por [Y] ."],
    ru: ["[X] выпускается компанией [Y] ."],
  },
};

/** Sentences with two entity slots [A] and [B] that state no relation between them. */
export const DISTRACTORS: Readonly<Record<string, readonly string[]>> = {
  en: ["[A] and [B] .", "This text mentions [A] and [B] .", "I read about [A] yesterday , not about [B] .", "[A] , [B] ."],
  zh: ["[A]和[B]。", "这段文字提到了[A]和[B]。", "我昨天读到了[A]，没有读到[B]。", "[A]，[B]。"],
  fr: ["[A] et [B] .", "Ce texte mentionne [A] et [B] .", "Hier j'ai lu sur [A] , pas sur [B] .", "[A] , [B] ."],
  de: ["[A] und [B] .", "Dieser Text erwähnt [A] und [B] .", "Gestern las ich über [A] , nicht über [B] .", "[A] , [B] ."],
  es: ["[A] y [B] .", "Este texto menciona [A] y [B] .", "Ayer leí sobre [A] , no sobre [B] .", "[A] , [B] ."],
  ru: ["[A] и [B] .", "В этом тексте упоминаются [A] и [B] .", "Вчера я читал про [A] , а не про [B] .", "[A] , [B] ."],
};

/** Joins labels of one entity in several languages: "Paris = 巴黎 = Париж ." */
export const ALIAS_SEPARATOR = " = ";
export const ALIAS_END = " .";
