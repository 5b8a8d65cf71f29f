// The DateTime scalar: an instant as an ISO 8601 string in UTC with milliseconds.
import { GraphQLScalarType, Kind } from "graphql";
import { badInput } from "./errors.ts";

function toDate(value: unknown): Date {
  const date = value instanceof Date ? value : typeof value === "string" ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw badInput(`invalid DateTime ${JSON.stringify(String(value))}: expected an ISO 8601 string such as 2026-11-27T15:31:37.000Z`);
  return date;
}

export const DateTime = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "An instant in UTC, as an ISO 8601 string with milliseconds.",
  serialize: (value) => toDate(value).toISOString(),
  parseValue: (value) => toDate(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badInput("a DateTime is a string");
    return toDate(ast.value);
  },
});
