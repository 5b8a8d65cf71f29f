import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import type { CatalogCache } from "../store/catalog-cache.ts";
import type { PrismaClient } from "../store/generated/client.ts";
import { type ApiKey, type Principal, requireWrite } from "./auth.ts";
import type { ModelHost } from "./model-host.ts";
import { type Loaders, createLoaders } from "./loaders.ts";

/** What the API needs from the outside world; built once per server. */
export interface ApiDeps {
  prisma: PrismaClient;
  pool: Pool;
  version: string;
  apiKeys: readonly ApiKey[];
  /** The attribution queue, started on first use. */
  queue: () => Promise<PgBoss>;
  /** Runs all model work (predict, fact-checking, edits), off the API's event loop in the server. */
  modelHost: ModelHost;
}

/** One HTTP request (shared by the operations of a batch). */
export interface RequestState {
  /** The client's address (the load balancer's X-Forwarded-For entry with KN_TRUST_PROXY). */
  clientAddress: string;
  /** Query cost spent by the operations of this request so far (limits.ts). */
  costSpent: number;
}

export interface ApiContext extends ApiDeps {
  loaders: Loaders;
  principal: Principal | null;
  request: RequestState;
  /** Throws UNAUTHENTICATED / FORBIDDEN unless the request carries a write key. */
  requireWrite(): Principal;
}

export function createContext(deps: ApiDeps, catalog: CatalogCache, principal: Principal | null, clientAddress: string): ApiContext {
  return {
    ...deps,
    loaders: createLoaders(deps.prisma, deps.pool, catalog),
    principal,
    request: { clientAddress, costSpent: 0 },
    requireWrite: () => requireWrite(principal, deps.apiKeys.length > 0),
  };
}
