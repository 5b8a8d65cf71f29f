import { badInput } from "./errors.ts";

export const MAX_PAGE_SIZE = 100;

/** Opaque Relay cursors: base64 of "<kind>:<key>", so clients cannot build them by accident. */
export function encodeCursor(kind: string, key: string): string {
  return Buffer.from(`${kind}:${key}`, "utf8").toString("base64url");
}

/**
 * The key of a cursor this server made; anything else (not canonical base64url, another kind,
 * control characters that no key contains) is BAD_USER_INPUT, never a query with a junk key.
 */
export function decodeCursor(kind: string, cursor: string | null | undefined): string | null {
  if (cursor == null) return null;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const key = text.slice(kind.length + 1);
  const canonical = encodeCursor(kind, key) === cursor;
  if (!canonical || !text.startsWith(`${kind}:`) || /[\u0000-\u001f]/.test(key)) {
    throw badInput(`invalid cursor ${JSON.stringify(cursor.length > 100 ? `${cursor.slice(0, 100)}…` : cursor)}`, "after");
  }
  return key;
}

export function pageSize(first: number | null | undefined, fallback = 20): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw badInput(`first must be an integer between 0 and ${MAX_PAGE_SIZE} (got ${n})`, "first");
  }
  return n;
}
