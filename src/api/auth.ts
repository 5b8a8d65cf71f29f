// API keys: queries are open; mutations need a key with write rights. Keys are configured as
// KN_API_KEYS="alice:s3cret:write,viewer:t0ken:read" and sent as "Authorization: Bearer s3cret".
// The key's name is recorded as who applied an edit.
import { timingSafeEqual } from "node:crypto";
import { apiError } from "./errors.ts";

export interface ApiKey {
  name: string;
  secret: string;
  write: boolean;
}

export interface Principal {
  name: string;
  write: boolean;
}

export function parseApiKeys(spec: string | undefined): ApiKey[] {
  if (!spec?.trim()) return [];
  return spec.split(",").map((entry) => {
    const [name, secret, rights = "read"] = entry.trim().split(":");
    if (!name || !secret || !["read", "write"].includes(rights)) {
      throw new Error(`KN_API_KEYS entry ${JSON.stringify(entry)} must be name:secret:read|write`);
    }
    return { name, secret, write: rights === "write" };
  });
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function authenticate(keys: readonly ApiKey[], authorization: string | undefined): Principal | null {
  const secret = authorization?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  if (!secret) return null;
  const key = keys.find((k) => same(k.secret, secret));
  return key ? { name: key.name, write: key.write } : null;
}

export function requireWrite(principal: Principal | null, hasKeys: boolean): Principal {
  if (!hasKeys) throw apiError("FORBIDDEN", "mutations are disabled: the server has no API keys (set KN_API_KEYS=name:secret:write)");
  if (!principal) throw apiError("UNAUTHENTICATED", "this mutation needs an API key: send Authorization: Bearer <key>");
  if (!principal.write) throw apiError("FORBIDDEN", `API key ${JSON.stringify(principal.name)} has no write rights`);
  return principal;
}
