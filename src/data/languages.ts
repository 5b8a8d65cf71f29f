/** The 53 languages of mLAMA 1.1, with English names (ISO 639-1, ceb = Cebuano). */
export const MLAMA_LANGUAGES: Readonly<Record<string, string>> = {
  af: "Afrikaans", ar: "Arabic", az: "Azerbaijani", be: "Belarusian", bg: "Bulgarian", bn: "Bengali",
  ca: "Catalan", ceb: "Cebuano", cs: "Czech", cy: "Welsh", da: "Danish", de: "German", el: "Greek",
  en: "English", es: "Spanish", et: "Estonian", eu: "Basque", fa: "Persian", fi: "Finnish", fr: "French",
  ga: "Irish", gl: "Galician", he: "Hebrew", hi: "Hindi", hr: "Croatian", hu: "Hungarian", hy: "Armenian",
  id: "Indonesian", it: "Italian", ja: "Japanese", ka: "Georgian", ko: "Korean", la: "Latin",
  lt: "Lithuanian", lv: "Latvian", ms: "Malay", nl: "Dutch", pl: "Polish", pt: "Portuguese",
  ro: "Romanian", ru: "Russian", sk: "Slovak", sl: "Slovenian", sq: "Albanian", sr: "Serbian",
  sv: "Swedish", ta: "Tamil", th: "Thai", tr: "Turkish", uk: "Ukrainian", ur: "Urdu", vi: "Vietnamese",
  zh: "Chinese",
};

/** Languages written without spaces between words: causal LMs encode the object without a leading space. */
export const UNSPACED_LANGUAGES: ReadonlySet<string> = new Set(["zh", "ja", "th"]);

export function languageName(code: string): string {
  return MLAMA_LANGUAGES[code] ?? code;
}
