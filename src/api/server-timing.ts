// Server time of every GraphQL request, reported in a `Server-Timing` response header (W3C Server
// Timing; browsers show it in the network panel, and the explorer's browser test reads it):
//
//   server-timing: total;dur=41.2, cpu;dur=25.0, db;dur=30.5;desc="6 statements", field.indexingCoverage;dur=18.0, ...
//
// `total` is the time from the request's arrival until its answer is ready (body read, parsing,
// validation, limits, every resolver); `cpu` is the CPU time the server process (all its threads,
// the model host's included) used meanwhile: what the request cost, robust to a busy machine as
// long as the process serves nothing else at the same time (PostgreSQL's own CPU is not in it);
// `db` adds up the time of the statements the API's pg pool ran
// for it (overlapping statements both count, so it can exceed `total`) and says how many there were;
// `field.<name>` is the time of each root field's resolver (its own work, until the value it
// returns settles; the fields below it are resolved afterwards and count in `total` only).
// Prisma's statements run on Prisma's own pool and are not counted in `db`.
import { AsyncLocalStorage } from "node:async_hooks";
import { type GraphQLSchema, defaultFieldResolver } from "graphql";
import type { Pool } from "pg";

interface RequestTiming {
  started: number;
  cpu: NodeJS.CpuUsage;
  statements: number;
  dbMs: number;
  fields: { name: string; ms: number }[];
}

const current = new AsyncLocalStorage<RequestTiming>();

/** Runs one request's handling with its timing recorded; returns the result and the header value. */
export async function timed<T>(handle: () => Promise<T>): Promise<{ result: T; header: () => string }> {
  const timing: RequestTiming = { started: performance.now(), cpu: process.cpuUsage(), statements: 0, dbMs: 0, fields: [] };
  const result = await current.run(timing, handle);
  const header = () => {
    const cpu = process.cpuUsage(timing.cpu);
    return [
      `total;dur=${(performance.now() - timing.started).toFixed(1)}`,
      `cpu;dur=${((cpu.user + cpu.system) / 1000).toFixed(1)}`,
      `db;dur=${timing.dbMs.toFixed(1)};desc="${timing.statements} statements"`,
      ...timing.fields.map((f) => `field.${f.name};dur=${f.ms.toFixed(1)}`),
    ].join(", ");
  };
  return { result, header };
}

const instrumented = new WeakSet<Pool>();

/** Counts the statements `pool.query` runs on behalf of a timed request, and their time. */
export function timePoolQueries(pool: Pool): void {
  if (instrumented.has(pool)) return;
  instrumented.add(pool);
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const timing = current.getStore();
    const result = query(...args);
    if (timing && result instanceof Promise) {
      const started = performance.now();
      timing.statements++;
      return result.finally(() => (timing.dbMs += performance.now() - started));
    }
    return result;
  };
}

/**
 * Times each root field's resolver (Query, Mutation) into the request's Server-Timing entries, by
 * wrapping those resolvers in the schema: a plugin's willResolveField hook is called by Apollo for
 * every field resolved (each scalar of each list item), only to ignore all but the root ones.
 * Call once per schema.
 */
export function timeRootFields(schema: GraphQLSchema): void {
  for (const type of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        const timing = current.getStore();
        if (!timing) return resolve(source, args, context, info);
        const started = performance.now();
        const done = () => void timing.fields.push({ name: info.path.key as string, ms: performance.now() - started });
        let result: unknown;
        try {
          result = resolve(source, args, context, info);
        } catch (error) {
          done();
          throw error;
        }
        // until the value it returns settles (a list: all its items)
        const settled = Array.isArray(result) && result.some((x) => x instanceof Promise) ? Promise.all(result) : result;
        if (settled instanceof Promise) settled.then(done, done);
        else done();
        return result;
      };
    }
  }
}
