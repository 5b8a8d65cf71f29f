import { badInput } from "./errors.ts";

export const MAX_PAGE_SIZE = 100;

/** Opaque Relay cursors: base64 of "<kind>:<key>", so clients cannot build them by accident. */
export function encodeCursor(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`, "utf8").toString("base64url");
}

export function decodeCursor(kind: string, cursor: string | null | undefined): string | null {
  if (cursor == null) return null;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text.startsWith(`${kind}:`)) throw badInput(`invalid cursor ${JSON.stringify(cursor)}`, "after");
  return text.slice(kind.length + 1);
}

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw badInput(`first must be an integer between 0 and ${MAX_PAGE_SIZE} (got ${n})`, "first");
  }
  return n;
}
