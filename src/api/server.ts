// The GraphQL HTTP server: Apollo Server over Node's http module, SDL from schema.graphql.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { makeExecutableSchemaFromSdl } from "./schema.ts";
import { authenticate } from "./auth.ts";
import { type ApiDeps, type ApiContext, createContext } from "./context.ts";
import { DEFAULT_LIMITS, type QueryLimits, limitsPlugin } from "./limits.ts";
import { resolvers } from "./resolvers/index.ts";

export const SCHEMA_PATH = join(import.meta.dirname, "../../schema.graphql");

export interface ServeOptions {
  port: number;
  host?: string;
  limits?: QueryLimits;
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps, options: ServeOptions): Promise<RunningServer> {
  const schema = makeExecutableSchemaFromSdl(readFileSync(SCHEMA_PATH, "utf8"), resolvers);
  const server = new ApolloServer<ApiContext>({
    schema,
    introspection: true,
    plugins: [limitsPlugin(schema, options.limits ?? DEFAULT_LIMITS)],
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port, host: options.host ?? "0.0.0.0" },
    context: async ({ req }) => createContext(deps, authenticate(deps.apiKeys, req.headers.authorization)),
  });
  return {
    url: new URL("graphql", url).toString(),
    stop: () => server.stop(),
  };
}
