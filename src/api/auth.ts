// API keys: queries are open; mutations need a key with write rights. Keys are configured as
// KN_API_KEYS="alice:s3cret:write,viewer:t0ken:read" and sent as "Authorization: Bearer s3cret".
// The key's name is recorded as who applied an edit; the secret is never printed or logged.
//
// Comparison runs in constant time: the presented secret and every configured one are hashed to
// SHA-256 (equal lengths, so timingSafeEqual never short-cuts on length) and ALL keys are compared,
// so the time taken says neither which key matched nor how long the secrets are.
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../config-error.ts";
import { apiError } from "./errors.ts";

export interface ApiKey {
  name: string;
  /** SHA-256 of the secret; the secret itself is not kept. */
  digest: Buffer;
  write: boolean;
}

export interface Principal {
  name: string;
  write: boolean;
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

export function parseApiKeys(spec: string | undefined): ApiKey[] {
  if (!spec?.trim()) return [];
  return spec.split(",").map((entry, i) => {
    const [name, secret, rights = "read"] = entry.trim().split(":");
    if (!name || !secret || !["read", "write"].includes(rights)) {
      // the entry holds a secret: name its position, never its text
      throw new ConfigError(`KN_API_KEYS entry ${i + 1} must be name:secret:read|write`);
    }
    return { name, digest: sha256(secret), write: rights === "write" };
  });
}

export type Authentication = { kind: "anonymous" } | { kind: "key"; principal: Principal } | { kind: "unknown-key" };

/** Who sends the Authorization header: nobody, a configured key, or a key nobody configured. */
export function authenticate(keys: readonly ApiKey[], authorization: string | undefined): Authentication {
  if (!authorization?.trim()) return { kind: "anonymous" };
  const secret = authorization.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  if (!secret) return { kind: "unknown-key" };
  const digest = sha256(secret);
  let found: ApiKey | undefined;
  for (const key of keys) if (timingSafeEqual(key.digest, digest) && !found) found = key;
  return found ? { kind: "key", principal: { name: found.name, write: found.write } } : { kind: "unknown-key" };
}

export function requireWrite(principal: Principal | null, hasKeys: boolean): Principal {
  if (!hasKeys) throw apiError("FORBIDDEN", "mutations are disabled: the server has no API keys (set KN_API_KEYS=name:secret:write)");
  if (!principal) throw apiError("UNAUTHENTICATED", "this mutation needs an API key: send Authorization: Bearer <key>");
  if (!principal.write) throw apiError("FORBIDDEN", `API key ${JSON.stringify(principal.name)} has no write rights`);
  return principal;
}

/**
 * Write scope for the whole Mutation type, checked once per operation before any resolver runs:
 * a mutation added to the schema later is covered without touching this file.
 */
export function writeScopePlugin<C extends BaseContext & { requireWrite(): Principal }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (operation?.operation === "mutation") contextValue.requireWrite();
        },
      };
    },
  };
}
