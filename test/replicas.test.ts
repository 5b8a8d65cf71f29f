// Many API replicas on one database. Edit changes are announced with NOTIFY in the transaction
// that writes them and heard by every replica's listener, which reconnects (and asks for a full
// resync) when its connection is lost.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { type EditChange, type EditListener, announceEditExpression, listenForEditChanges } from "../src/store/edit-events.ts";
import { markReverted, reserveEditId, saveEdit } from "../src/store/edits.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const store = openTestStore();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  for (const t0 = Date.now(); !check(); await sleep(20)) if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
}

describe("edit notifications", () => {
  const changes: EditChange[] = [];
  const logged: string[] = [];
  let resyncs = 0;
  let listener: EditListener;
  let checkpointId: number;

  beforeAll(async () => {
    await truncateAll(store.pool);
    checkpointId = (await registerDemoModels(store.prisma))[0].id;
    listener = listenForEditChanges(store.url, { onChange: (c) => changes.push(c), onResync: () => resyncs++, log: (l) => logged.push(l) }, { heartbeatMs: 500 });
    await listener.ready;
  });
  afterAll(async () => {
    await listener?.close();
    await store.close();
  });

  it("are heard once the writing transaction commits, never when it rolls back", async () => {
    expect(resyncs).toBe(1); // the first LISTEN asks for a resync too: changes before it were not heard
    const client = await store.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`SELECT ${announceEditExpression("$1", "'7'", "'ACTIVE'")}`, [checkpointId]);
      await client.query("ROLLBACK");
      await client.query("BEGIN");
      await client.query(`SELECT ${announceEditExpression("$1", "'8'", "'ACTIVE'")}`, [checkpointId]);
      await sleep(300);
      expect(changes).toEqual([]); // not before COMMIT
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await until("the committed change", () => changes.length > 0);
    expect(changes).toEqual([{ checkpointId, editId: "8", status: "ACTIVE" }]);
  });

  it("are sent by saveEdit and markReverted", async () => {
    changes.length = 0;
    const id = await reserveEditId(store.pool);
    await saveEdit(store.pool, { id, checkpointId, kind: "SUPPRESS", target: "EXPLICIT", factId: null, languageCode: null, neurons: [[0, 1]], params: { factor: 0 }, savedWeights: null, appliedBy: "test" }, []);
    await until("the applied edit", () => changes.length === 1);
    expect(await markReverted(store.pool, id, "test")).not.toBeNull();
    await until("the reverted edit", () => changes.length === 2);
    expect(await markReverted(store.pool, id, "test")).toBeNull(); // not active any more: nothing announced
    await sleep(300);
    expect(changes).toEqual([
      { checkpointId, editId: id.toString(), status: "ACTIVE" },
      { checkpointId, editId: id.toString(), status: "REVERTED" },
    ]);
  });

  it("reconnect after the listening connection is killed, resync, and hear later changes", async () => {
    changes.length = 0;
    const before = resyncs;
    const { rows } = await store.pool.query("SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'kn-edit-listener' AND datname = current_database()");
    expect(rows).toHaveLength(1);
    await until("the resync after reconnecting", () => resyncs === before + 1);
    expect(listener.connected()).toBe(true);
    expect(logged.some((l) => /edit notifications: connection lost/.test(l))).toBe(true);
    await store.pool.query(`SELECT ${announceEditExpression("$1", "'9'", "'REVERTED'")}`, [checkpointId]);
    await until("a change after the reconnection", () => changes.length === 1);
    expect(changes).toEqual([{ checkpointId, editId: "9", status: "REVERTED" }]);
  });
});
