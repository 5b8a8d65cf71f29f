import type { Pool } from "pg";
import type { PrismaClient } from "../store/generated/client.ts";
import { type Loaders, createLoaders } from "./loaders.ts";

/** What the API needs from the outside world; built once per server. */
export interface ApiDeps {
  prisma: PrismaClient;
  pool: Pool;
  version: string;
}

export interface ApiContext extends ApiDeps {
  loaders: Loaders;
}

export function createContext(deps: ApiDeps): ApiContext {
  return { ...deps, loaders: createLoaders(deps.prisma) };
}
