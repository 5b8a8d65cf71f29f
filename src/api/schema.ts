import { makeExecutableSchema } from "@graphql-tools/schema";
import type { GraphQLSchema } from "graphql";
import type { Resolvers } from "./generated/resolvers.ts";

export function makeExecutableSchemaFromSdl(typeDefs: string, resolvers: Resolvers): GraphQLSchema {
  // Resolvers for fields the SDL does not declare are a programming error: fail at start-up.
  return makeExecutableSchema({ typeDefs, resolvers, resolverValidationOptions: { requireResolversToMatchSchema: "error" } });
}
