import { GraphQLError } from "graphql";

export type ErrorCode = "BAD_USER_INPUT" | "NOT_FOUND" | "FORBIDDEN" | "UNAUTHENTICATED" | "CONFLICT" | "QUERY_TOO_DEEP" | "QUERY_TOO_COMPLEX";

export function apiError(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export const badInput = (message: string, argument?: string) =>
  apiError("BAD_USER_INPUT", message, argument ? { argument } : {});

export const notFound = (what: string, id: string) => apiError("NOT_FOUND", `${what} ${JSON.stringify(id)} not found`, { id });
