// The GraphQL HTTP server: Apollo Server behind our own HTTP layer (http.ts), SDL from
// schema.graphql. Every request passes, in order: the HTTP checks (origin, body size, UTF-8, JSON,
// batch size), authentication, then per operation the depth/cost/string limits, write scope for
// mutations and the compute budgets, all before any resolver runs.
import http from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { makeExecutableSchemaFromSdl } from "./schema.ts";
import { authenticate, writeScopePlugin } from "./auth.ts";
import { cachePolicyPlugin } from "./cache-policy.ts";
import { BudgetLedger, type ComputeBudgets, DEFAULT_BUDGETS, computeBudgetPlugin } from "./compute-budget.ts";
import { type ApiDeps, type ApiContext, createContext } from "./context.ts";
import { databaseUnavailablePlugin, formatErrorWith } from "./error-policy.ts";
import { apiError } from "./errors.ts";
import { DEFAULT_HTTP_OPTIONS, GRAPHQL_PATH, type HttpOptions, createHttpHandler } from "./http.ts";
import { DEFAULT_LIMITS, type QueryLimits, limitsPlugin } from "./limits.ts";
import { resolvers } from "./resolvers/index.ts";
import { timePoolQueries, timeRootFields } from "./server-timing.ts";
import { CatalogCache } from "../store/catalog-cache.ts";
import { databaseReachable } from "../store/client.ts";

export const SCHEMA_PATH = join(import.meta.dirname, "../../schema.graphql");

export interface ServeOptions {
  port: number;
  host?: string;
  limits?: Partial<QueryLimits>;
  http?: Partial<HttpOptions>;
  budgets?: Partial<ComputeBudgets>;
  /** Stack traces and internal messages in error answers: development only (default false). */
  exposeErrors?: boolean;
  /** Requests for paths other than /graphql and /healthz (the web explorer). */
  fallback?: http.RequestListener;
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

export async function startApiServer(deps: ApiDeps, options: ServeOptions): Promise<RunningServer> {
  const schema = makeExecutableSchemaFromSdl(readFileSync(SCHEMA_PATH, "utf8"), resolvers);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const httpOptions = { ...DEFAULT_HTTP_OPTIONS, ...options.http };
  const exposeErrors = options.exposeErrors ?? false;
  const httpServer = http.createServer();
  timePoolQueries(deps.pool);
  timeRootFields(schema);
  const catalog = new CatalogCache(deps.pool);
  await catalog.start();
  const apollo = new ApolloServer<ApiContext>({
    schema,
    introspection: true,
    includeStacktraceInErrorResponses: exposeErrors,
    formatError: formatErrorWith({ expose: exposeErrors }),
    allowBatchedHttpRequests: httpOptions.maxBatch > 1,
    // the process owner (kn serve) handles SIGINT/SIGTERM; Apollo's own handler re-raises the signal
    stopOnTerminationSignals: false,
    plugins: [
      limitsPlugin(schema, limits),
      writeScopePlugin(),
      computeBudgetPlugin({ ...DEFAULT_BUDGETS, ...options.budgets }, new BudgetLedger(deps.pool)),
      databaseUnavailablePlugin(),
      // Cache-Control once per document instead of a hook on every resolved field (cache-policy.ts)
      ApolloServerPluginCacheControlDisabled(),
      cachePolicyPlugin(schema),
      ApolloServerPluginDrainHttpServer({ httpServer }),
    ],
  });
  await apollo.start();
  httpServer.on(
    "request",
    createHttpHandler({
      ...httpOptions,
      apollo,
      fallback: options.fallback,
      health: async () => {
        const database = await databaseReachable(deps.pool);
        return { ok: database, database };
      },
      context: async (req, clientAddress) => {
        const auth = authenticate(deps.apiKeys, req.headers.authorization);
        if (auth.kind === "unknown-key") throw apiError("UNAUTHENTICATED", "the API key sent in Authorization is not valid");
        return createContext(deps, catalog, auth.kind === "key" ? auth.principal : null, clientAddress);
      },
    }),
  );
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host ?? "0.0.0.0", () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const address = httpServer.address() as { port: number };
  const host = !options.host || options.host === "0.0.0.0" || options.host === "::" ? "localhost" : options.host;
  return {
    url: `http://${host}:${address.port}${GRAPHQL_PATH}`,
    stop: async () => {
      await apollo.stop();
      await catalog.close();
    },
  };
}
