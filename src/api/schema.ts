import { makeExecutableSchema } from "@graphql-tools/schema";
import type { GraphQLSchema } from "graphql";

export function makeExecutableSchemaFromSdl(typeDefs: string, resolvers: Record<string, Record<string, unknown>>): GraphQLSchema {
  // Resolvers for fields the SDL does not declare are a programming error: fail at start-up.
  return makeExecutableSchema({ typeDefs, resolvers: resolvers as never, resolverValidationOptions: { requireResolversToMatchSchema: "error" } });
}
