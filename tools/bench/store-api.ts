// The GraphQL API as `npm run bench:store` load-tests it: N replicas (separate Node processes, each
// with its own Prisma client and pg pool, as on separate machines) behind one port, Node's cluster
// module handing each incoming connection to the next replica in turn, as `kn serve --processes N`
// does (src/cli/api-processes.ts); the bench has its own small harness for the plan-cache knob
// ("custom"), the bare control, the replicas' process ids it measures CPU by, and API processes
// without a model host thread, queue or explorer.
//   node --import tsx tools/bench/store-api.ts <database url> <port> <replicas> [generic|custom|bare]
// "bare" is the benchmark's control for HTTP alone: each replica is a plain Node HTTP server that reads
// the request body and answers every request with the API's answer to `{ __typename }` (no GraphQL,
// no database), so the load test can tell what the machine and the load generator cost from what
// the API's stack adds.
// Prints "ready <pid>,<pid>…" (the replicas' process ids, for CPU accounting) once every replica listens.
import cluster from "node:cluster";
import http from "node:http";
import { InlineModelHost } from "../../src/api/model-host.ts";
import { startApiServer } from "../../src/api/server.ts";
import { createPool, createPrisma } from "../../src/store/client.ts";
import { relationIndexes } from "../../src/store/relation-answers.ts";

const [url, port, replicas, plans] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 1), process.argv[5] ?? "generic"];

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let ready = 0;
  for (let i = 0; i < replicas; i++) {
    cluster.fork().on("message", (m) => {
      if (m === "ready" && ++ready === replicas) process.stdout.write(`ready ${Object.values(cluster.workers ?? {}).map((w) => w?.process.pid).join(",")}\n`);
    });
  }
  cluster.on("exit", (worker, code, signal) => {
    if (code !== 0 && signal !== "SIGKILL") {
      process.stderr.write(`replica ${worker.process.pid} exited with ${code}\n`);
      process.exit(1);
    }
  });
  process.on("SIGTERM", () => {
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    let left = workers.length;
    if (!left) process.exit(0);
    for (const w of workers) {
      w.once("exit", () => --left === 0 && process.exit(0));
      w.process.kill("SIGKILL");
    }
  });
} else if (plans === "bare") {
  const answer = JSON.stringify({ data: { __typename: "Query" } });
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(answer) }).end(answer));
  });
  server.listen(port, "127.0.0.1", () => process.send?.("ready"));
} else {
  const pool = createPool(url, { max: 8, applicationName: "kn-bench-api", genericPlans: plans === "generic" });
  const prisma = createPrisma(url, { max: 4 });
  await startApiServer(
    { prisma, pool, version: "bench", apiKeys: [], queue: () => Promise.reject(new Error("no queue in the benchmark")), modelHost: new InlineModelHost(pool) },
    { port, host: "127.0.0.1" },
  );
  // as `kn serve` does at start; the load test measures a process that has loaded them
  await relationIndexes(pool).warm();
  process.send?.("ready");
}
