// What an error answer may show. In development (NODE_ENV=development, or KN_EXPOSE_ERRORS=1) errors
// carry their stack traces and original messages. Everywhere else an unexpected error is answered
// as INTERNAL_SERVER_ERROR with a reference id and no message of its own (a driver message can name
// tables, files or hosts); the whole error is logged on the server under that id. A lost database
// is not a bug: it is answered as DATABASE_UNAVAILABLE with HTTP 503 and Retry-After, so clients
// and load balancers retry instead of reporting a failure.
import { randomUUID } from "node:crypto";
import type { ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { isDatabaseUnavailable } from "../store/unavailable.ts";

/** Seconds a client is asked to wait before retrying while the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The original error of a resolver or plugin failure (what the code threw). */
function originalOf(error: unknown): unknown {
  const unwrapped = unwrapResolverError(error);
  return unwrapped instanceof GraphQLError && unwrapped.originalError ? unwrapped.originalError : unwrapped;
}

export interface ErrorPolicy {
  /** Stack traces and original messages in answers (development only). */
  expose: boolean;
  /** Where masked errors are logged (default console.error). */
  log?: (line: string) => void;
}

export function formatErrorWith(policy: ErrorPolicy) {
  const log = policy.log ?? ((line: string) => console.error(line));
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = originalOf(error);
    const where = { ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}) };
    if (isDatabaseUnavailable(original)) {
      const detail = policy.expose ? { detail: original instanceof Error ? original.message : String(original) } : {};
      return { message: "the database is unavailable; retry shortly", ...where, extensions: { code: "DATABASE_UNAVAILABLE", retryAfter: DATABASE_RETRY_AFTER_SECONDS, ...detail } };
    }
    if (policy.expose || formatted.extensions?.code !== "INTERNAL_SERVER_ERROR") return formatted;
    const reference = randomUUID();
    log(`internal error ${reference}: ${original instanceof Error ? (original.stack ?? original.message) : String(original)}`);
    return { message: `internal server error (reference ${reference})`, ...where, extensions: { code: "INTERNAL_SERVER_ERROR", reference } };
  };
}

/** HTTP 503 and Retry-After when an operation failed because the database is unreachable. */
export function databaseUnavailablePlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, response }) {
          if (!errors.some((e) => isDatabaseUnavailable(originalOf(e)))) return;
          response.http.status = 503;
          response.http.headers.set("retry-after", String(DATABASE_RETRY_AFTER_SECONDS));
        },
      };
    },
  };
}
