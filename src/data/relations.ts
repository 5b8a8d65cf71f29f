/** English labels of the T-REx relations of mLAMA 1.1 (Wikidata property labels). */
export const RELATION_LABELS: Readonly<Record<string, string>> = {
  P1001: "applies to jurisdiction", P101: "field of work", P103: "native language", P106: "occupation",
  P108: "employer", P127: "owned by", P1303: "instrument", P131: "located in the administrative territorial entity",
  P136: "genre", P1376: "capital of", P138: "named after", P140: "religion", P1412: "languages spoken, written or signed",
  P159: "headquarters location", P17: "country", P176: "manufacturer", P178: "developer", P19: "place of birth",
  P190: "twinned administrative body", P20: "place of death", P264: "record label", P27: "country of citizenship",
  P276: "location", P279: "subclass of", P30: "continent", P31: "instance of", P36: "capital", P361: "part of",
  P364: "original language of film or TV show", P37: "official language", P39: "position held",
  P407: "language of work or name", P413: "position played on team / speciality", P449: "original broadcaster",
  P463: "member of", P47: "shares border with", P495: "country of origin", P527: "has part", P530: "diplomatic relation",
  P740: "location of formation", P937: "work location", place_of_birth: "place of birth (Google-RE)",
  place_of_death: "place of death (Google-RE)",
};

export function relationLabel(id: string): string {
  return RELATION_LABELS[id] ?? id;
}
