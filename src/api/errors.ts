import { GraphQLError } from "graphql";

export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "CONFLICT"
  | "QUERY_TOO_DEEP"
  | "QUERY_TOO_COMPLEX"
  | "RATE_LIMITED"
  | "DATABASE_UNAVAILABLE"
  | "INTERNAL_SERVER_ERROR";

/**
 * Codes that refuse a whole request also set its HTTP status (Apollo reads extensions.http and
 * strips it from the answer): a load balancer or client library sees 401/403/429/503, not 200 or
 * 500. Field-level codes (BAD_USER_INPUT, NOT_FOUND, CONFLICT) keep 200 so partial data survives.
 */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  QUERY_TOO_DEEP: 400,
  QUERY_TOO_COMPLEX: 400,
  RATE_LIMITED: 429,
  DATABASE_UNAVAILABLE: 503,
};

export function apiError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code, ...extra, ...(status ? { http: { status } } : {}) } });
}

/**
 * An error that refuses the whole request before anything runs (a plugin's): always an HTTP error
 * status (400 unless the code has its own), with extra response headers such as Retry-After.
 */
export function requestError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): GraphQLError {
  const status = HTTP_STATUS[code] ?? 400;
  return new GraphQLError(message, { extensions: { code, ...extra, http: { status, headers: new Map(Object.entries(headers)) } } });
}

export const badInput = (message: string, argument?: string) =>
  apiError("BAD_USER_INPUT", message, argument ? { argument } : {});

export const notFound = (what: string, id: string) => apiError("NOT_FOUND", `${what} ${JSON.stringify(id)} not found`, { id });
