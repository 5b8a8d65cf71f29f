// The worker-thread side of ThreadModelHost: an InlineModelHost with its own database pool,
// answering one request per message. Requests run concurrently as they arrive; the live-model
// registry serializes the work of each checkpoint.
import { parentPort, workerData } from "node:worker_threads";
import { createPool } from "../store/client.ts";
import { InlineModelHost } from "./model-host.ts";
import { type HostReply, type HostRequest, type HostWorkerData, toWire } from "./model-host-thread.ts";

const port = parentPort!;
const { databaseUrl } = workerData as HostWorkerData;
const pool = createPool(databaseUrl, { max: 4, applicationName: "knowledge-neuron-db model host" });
const host = new InlineModelHost(pool);

port.on("message", async (message: HostRequest | "close") => {
  if (message === "close") {
    await host.close();
    await pool.end();
    port.close();
    process.exit(0); // ends this thread only (tfjs may hold timers otherwise)
  }
  let reply: HostReply;
  try {
    const fn = host[message.method] as (...args: unknown[]) => Promise<unknown>;
    reply = { id: message.id, ok: true, value: await fn.apply(host, message.args) };
  } catch (err) {
    reply = { id: message.id, ok: false, error: toWire(err) };
  }
  port.postMessage(reply);
});
