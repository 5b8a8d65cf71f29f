// Traditional → simplified Chinese for mLAMA's zh files, whose labels mix both scripts (§2.1).
// The reference runs OpenCC t2s over every zh line before parsing it (ALGORITHMS.md §2.3); this
// is the same conversion through opencc-js, the maintained JavaScript port of OpenCC with its
// dictionaries (phrase-level segmentation included).
import { Converter } from "opencc-js/t2cn";

export const SIMPLIFIED_CHINESE_RULE = "OpenCC t2s";

let t2s: ((text: string) => string) | null = null;

/** The conversion applied to a language's lines on import, or null (only zh is converted). */
export function scriptConverter(language: string): ((text: string) => string) | null {
  if (language !== "zh") return null;
  t2s ??= Converter({ from: "t", to: "cn" });
  return t2s;
}

/** `convert` applied to every string inside a parsed JSON value (objects and arrays walked). */
export function convertStrings<T>(value: T, convert: (text: string) => string): T {
  if (typeof value === "string") return convert(value) as T;
  if (Array.isArray(value)) return value.map((v) => convertStrings(v, convert)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convertStrings(v, convert)])) as T;
  }
  return value;
}
