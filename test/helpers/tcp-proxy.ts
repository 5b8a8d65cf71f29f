// A TCP proxy between a process and PostgreSQL that a test can cut: "forward" passes bytes,
// "refuse" closes every connection and refuses new ones (a stopped server), "blackhole" accepts
// and holds connections without passing a byte (a network partition: nothing answers, nothing
// closes).
import net from "node:net";

export type ProxyMode = "forward" | "refuse" | "blackhole";

export interface TcpProxy {
  port: number;
  /** The target URL with host and port replaced by the proxy's. */
  url(target: string): string;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = "forward";
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | null; held: boolean }>();
  const server = net.createServer((client) => {
    client.on("error", () => undefined);
    if (mode === "refuse") {
      client.destroy();
      return;
    }
    const pair = { client, upstream: null as net.Socket | null, held: mode === "blackhole" };
    pairs.add(pair);
    client.on("close", () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (mode === "blackhole") return; // hold it: bytes in, nothing out
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url(target: string) {
      const u = new URL(target);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    setMode(next: ProxyMode) {
      mode = next;
      for (const pair of pairs) {
        if (next === "refuse") {
          pair.client.destroy();
          pair.upstream?.destroy();
        } else if (next === "blackhole" && pair.upstream) {
          // stop passing bytes both ways; the sockets stay open
          pair.client.unpipe(pair.upstream);
          pair.upstream.unpipe(pair.client);
          pair.client.pause();
          pair.upstream.pause();
          pair.held = true;
        } else if (next === "forward" && pair.held) {
          // a connection held by the blackhole has lost bytes: like after a partition, it is dead
          pair.client.destroy();
          pair.upstream?.destroy();
        }
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
