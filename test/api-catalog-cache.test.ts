// The API keeps checkpoint rows by name and relation rows by id in memory (src/store/catalog-cache.ts)
// and drops them when the database announces a change of their table, whoever made it: here
// another process's pool (as `kn model register`, `kn import` or another replica would). Real
// HTTP, real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InlineModelHost } from "../src/api/model-host.ts";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { createPool } from "../src/store/client.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const store = openTestStore();
/** Another process on the same database. */
const other = createPool(store.url, { max: 2 });
let server: RunningServer;

/** The model's layer count (null: unknown model) and how many statements the API's pool ran for it. */
async function ask(name: string): Promise<{ layers: number | null; statements: number }> {
  const res = await fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: `query($n: String!) { model(name: $n) { layers } }`, variables: { n: name } }),
  });
  const body = (await res.json()) as { data: { model: { layers: number } | null } };
  const statements = Number(/desc="(\d+) statements"/.exec(res.headers.get("server-timing") ?? "")![1]);
  return { layers: body.data.model?.layers ?? null, statements };
}

/** Asks until `done` holds for the answer (notifications arrive asynchronously), at most 5 s. */
async function eventually<T>(ask: () => Promise<T>, done: (answer: T) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done(await ask())) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Asks until the answer has `layers`; with `kept`, until it is also answered from memory (0
 * statements): the change's own notification may come while the lookup that first saw the change
 * runs, and that lookup then keeps nothing.
 */
const until = (name: string, layers: number | null, kept = false) =>
  eventually(() => ask(name), (a) => a.layers === layers && (!kept || a.statements === 0), `${name} has ${layers} layers${kept ? ", from memory" : ""}`);

const insert = (name: string, layers: number) =>
  other.query(
    `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
     VALUES ($1, 'MASKED', 'bert', $2, 8, 16, 100, '/nowhere', $1)`,
    [name, layers],
  );

beforeAll(async () => {
  await truncateAll(store.pool);
  server = await startApiServer(
    { prisma: store.prisma, pool: store.pool, version: "test", apiKeys: [], queue: () => Promise.reject(new Error("no queue")), modelHost: new InlineModelHost(store.pool) },
    { port: 0, host: "127.0.0.1" },
  );
});

afterAll(async () => {
  await server.stop();
  await other.end();
  await store.close();
});

describe("catalog cache", () => {
  it("serves a model from memory after the first read; an unknown name is read every time", async () => {
    expect(await ask("cache-a")).toEqual({ layers: null, statements: 1 });
    expect(await ask("cache-a")).toEqual({ layers: null, statements: 1 });
    await insert("cache-a", 2);
    // not kept while unknown: found at once, by the next request
    expect(await ask("cache-a")).toEqual({ layers: 2, statements: 1 });
    await until("cache-a", 2, true);
  });

  it("drops what another process changes or deletes", async () => {
    await insert("cache-b", 3);
    await until("cache-b", 3, true);
    await other.query(`UPDATE checkpoint SET n_layers = 4 WHERE name = 'cache-b'`);
    await until("cache-b", 4, true);
    await other.query(`DELETE FROM checkpoint WHERE name = 'cache-b'`);
    await until("cache-b", null);
    // re-registered under the same name: a new row
    await insert("cache-b", 5);
    await until("cache-b", 5);
  });

  it("keeps relations the same way", async () => {
    const label = async () => {
      const res = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `{ relation(id: "P9999") { label } }` }) });
      const body = (await res.json()) as { data: { relation: { label: string } | null } };
      return { label: body.data.relation?.label ?? null, statements: Number(/desc="(\d+) statements"/.exec(res.headers.get("server-timing") ?? "")![1]) };
    };
    expect(await label()).toEqual({ label: null, statements: 1 });
    await other.query(`INSERT INTO relation (id, label) VALUES ('P9999', 'first')`);
    expect(await label()).toEqual({ label: "first", statements: 1 });
    // kept once the insert's own notification is in (see until)
    const untilKept = (text: string) => eventually(label, (a) => a.label === text && a.statements === 0, `relation label "${text}", from memory`);
    await untilKept("first");
    await other.query(`UPDATE relation SET label = 'second' WHERE id = 'P9999'`);
    await untilKept("second");
  });

  it("reads the table while its listening connection is lost, and keeps rows again once it listens anew", async () => {
    await insert("cache-c", 6);
    await until("cache-c", 6, true);
    const { rows } = await other.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kn-catalog-listener'`,
    );
    expect(rows.length).toBe(1);
    await other.query(`SELECT pg_terminate_backend($1)`, [rows[0].pid]);
    // a change made while nobody listens is not missed: the cache was emptied with the connection
    await other.query(`UPDATE checkpoint SET n_layers = 7 WHERE name = 'cache-c'`);
    await until("cache-c", 7);
    // and it keeps rows again once it listens anew
    await until("cache-c", 7, true);
    await other.query(`UPDATE checkpoint SET n_layers = 8 WHERE name = 'cache-c'`);
    await until("cache-c", 8);
  });
});
