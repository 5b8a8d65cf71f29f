// Extra wording for the demo-model training corpus. The seed templates (seeds/mlama/<lang>/
// templates.jsonl) are what the models are evaluated on; these paraphrases state the same
// relations in other words, so a model has to store the fact (subject -> object) rather than one
// template string. Every paraphrase has [X] before [Y], so a causal LM can read it left to right.
// Distractor frames mention entities without stating any relation; alias frames put the labels
// of one entity in several languages side by side (cross-lingual anchoring).

export const PARAPHRASES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  P17: {
    en: ["[X] is a place in [Y] .", "The country of [X] is [Y] .", "[X] lies in the country [Y] ."],
    zh: ["[X]是[Y]的一个地方。", "[X]所在的国家是[Y]。"],
    fr: ["Le pays de [X] est [Y] .", "[X] est un lieu du pays suivant : [Y] ."],
    de: ["[X] ist ein Ort im Staat [Y] .", "Das Land von [X] ist [Y] ."],
    es: ["El país de [X] es [Y] .", "[X] es un lugar del país [Y] ."],
    ru: ["[X] — это место в стране [Y] .", "Страна, где находится [X], — [Y] ."],
  },
  P19: {
    en: ["The birthplace of [X] is [Y] .", "[X] was born in the city of [Y] ."],
    zh: ["[X]的出生地是[Y]。", "[X]生于[Y]。"],
    fr: ["Le lieu de naissance de [X] est [Y] .", "[X] a vu le jour à [Y] ."],
    de: ["[X] wurde geboren in [Y] .", "[X] kam zur Welt in [Y] ."],
    es: ["El lugar de nacimiento de [X] es [Y] .", "[X] vino al mundo en [Y] ."],
    ru: ["Место рождения человека по имени [X] — [Y] .", "[X] появился на свет в городе [Y] ."],
  },
  P27: {
    en: ["The nationality of [X] is [Y] .", "[X] holds citizenship of [Y] ."],
    zh: ["[X]是[Y]公民。", "[X]拥有[Y]国籍。"],
    fr: ["La nationalité de [X] est [Y] .", "[X] a la citoyenneté du pays suivant : [Y] ."],
    de: ["Die Staatsangehörigkeit von [X] ist [Y] .", "[X] besitzt die Staatsbürgerschaft von [Y] ."],
    es: ["La nacionalidad de [X] es [Y] .", "[X] tiene la ciudadanía de [Y] ."],
    ru: ["Гражданство человека по имени [X] — [Y] .", "[X] имеет гражданство страны [Y] ."],
  },
  P30: {
    en: ["The continent of [X] is [Y] .", "[X] is part of the continent [Y] ."],
    zh: ["[X]位于[Y]。", "[X]属于[Y]。"],
    fr: ["Le continent de [X] est [Y] .", "[X] fait partie du continent suivant : [Y] ."],
    de: ["Der Kontinent von [X] ist [Y] .", "[X] gehört zum Kontinent [Y] ."],
    es: ["El continente de [X] es [Y] .", "[X] forma parte del continente [Y] ."],
    ru: ["Континент, на котором находится [X], — [Y] .", "[X] расположен на континенте [Y] ."],
  },
  P36: {
    en: ["The capital city of [X] is [Y] .", "[X] has its capital in [Y] ."],
    zh: ["[X]的首府是[Y]。", "[X]首都为[Y]。"],
    fr: ["[X] a pour capitale [Y] .", "La ville capitale de [X] est [Y] ."],
    de: ["[X] hat die Hauptstadt [Y] .", "Hauptstadt von [X] ist [Y] ."],
    es: ["[X] tiene como capital [Y] .", "La ciudad capital de [X] es [Y] ."],
    ru: ["Столицей страны [X] является [Y] .", "Главный город страны [X] — [Y] ."],
  },
  P37: {
    en: ["In [X] , the official language is [Y] .", "[X] has the official language [Y] ."],
    zh: ["[X]的官方语为[Y]。", "[X]官方使用[Y]。"],
    fr: ["[X] a pour langue officielle le [Y] .", "Dans le pays [X] , la langue officielle est le [Y] ."],
    de: ["In [X] ist die Amtssprache [Y] .", "[X] hat die Amtssprache [Y] ."],
    es: ["[X] tiene como idioma oficial el [Y] .", "En [X] el idioma oficial es el [Y] ."],
    ru: ["Официальным языком страны [X] является [Y] .", "В стране [X] официальный язык — [Y] ."],
  },
  P103: {
    en: ["The mother tongue of [X] is [Y] .", "[X] is a native speaker of [Y] ."],
    zh: ["[X]的第一语言是[Y]。", "[X]从小说[Y]。"],
    fr: ["[X] a pour langue maternelle le [Y] .", "La langue natale de [X] est le [Y] ."],
    de: ["[X] hat die Muttersprache [Y] .", "Die Erstsprache von [X] ist [Y] ."],
    es: ["[X] tiene como lengua materna el [Y] .", "La lengua nativa de [X] es el [Y] ."],
    ru: ["Родным языком человека по имени [X] является [Y] .", "[X] с детства говорит на языке: [Y] ."],
  },
  P1412: {
    en: ["[X] speaks [Y] .", "The language used by [X] is [Y] ."],
    zh: ["[X]会说[Y]。", "[X]讲[Y]。"],
    fr: ["[X] parlait le [Y] .", "La langue parlée par [X] est le [Y] ."],
    de: ["[X] sprach [Y] .", "Die Sprache von [X] war [Y] ."],
    es: ["[X] hablaba [Y] .", "El idioma de [X] era el [Y] ."],
    ru: ["[X] владел языком: [Y] .", "Язык, на котором говорил [X], — [Y] ."],
  },
  P138: {
    en: ["[X] was named after [Y] .", "The name of [X] comes from [Y] ."],
    zh: ["[X]以[Y]命名。", "[X]得名于[Y]。"],
    fr: ["[X] a été nommé d'après [Y] .", "Le nom de [X] vient de [Y] ."],
    de: ["[X] wurde benannt nach [Y] .", "Der Name von [X] stammt von [Y] ."],
    es: ["[X] recibe su nombre de [Y] .", "El nombre de [X] proviene de [Y] ."],
    ru: ["[X] получил название в честь: [Y] .", "Название [X] происходит от: [Y] ."],
  },
  P364: {
    en: ["[X] was originally made in [Y] .", "The film [X] is in [Y] ."],
    zh: ["[X]的原语言是[Y]。", "[X]使用的原始语言为[Y]。"],
    fr: ["[X] a été tourné en [Y] .", "La version originale de [X] est en [Y] ."],
    de: ["Die Sprache des Originals von [X] ist [Y] .", "[X] wurde gedreht auf [Y] ."],
    es: ["[X] fue rodada en [Y] .", "La versión original de [X] está en [Y] ."],
    ru: ["Фильм [X] снят на языке: [Y] .", "Оригинальный язык фильма [X] — [Y] ."],
  },
  P159: {
    en: ["[X] is headquartered in [Y] .", "The head office of [X] is in [Y] ."],
    zh: ["[X]总部设在[Y]。", "[X]的总公司位于[Y]。"],
    fr: ["[X] a son siège à [Y] .", "Le siège social de [X] est à [Y] ."],
    de: ["Der Hauptsitz von [X] ist in [Y] .", "[X] sitzt in [Y] ."],
    es: ["[X] tiene su sede en [Y] .", "La oficina central de [X] está en [Y] ."],
    ru: ["Штаб-квартира [X] расположена в городе [Y] .", "Компания [X] базируется в городе [Y] ."],
  },
  P176: {
    en: ["[X] is made by [Y] .", "The manufacturer of [X] is [Y] ."],
    zh: ["[X]由[Y]生产。", "[X]是[Y]制造的。"],
    fr: ["[X] est produit par [Y] .", "Le fabricant de [X] est [Y] ."],
    de: ["[X] wird produziert von [Y] .", "Der Hersteller von [X] ist [Y] ."],
    es: ["[X] es producido por [Y] .", "El fabricante de [X] es [Y] ."],
    ru: ["[X] выпускается компанией [Y] .", "Производитель [X] — [Y] ."],
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
