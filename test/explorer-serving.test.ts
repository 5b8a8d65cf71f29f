// How the server hands out the explorer's bundle, over real HTTP: the build the server makes
// (graphql-codegen + vite, skipped when up to date), index.html for client-side routes, hashed
// assets cached for good and gzipped, no way out of the build folder, a 503 page while building.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExplorerBuild, ensureExplorerBuilt, explorerHandler } from "../src/api/explorer.ts";

function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({ url, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

describe("explorer bundle serving", () => {
  let build: ExplorerBuild;
  let server: { url: string; close: () => Promise<void> };

  beforeAll(async () => {
    build = await ensureExplorerBuilt();
    server = await listen(explorerHandler(Promise.resolve(build)));
  }, 300_000);
  afterAll(() => server?.close());

  it("does not rebuild an up-to-date bundle", async () => {
    const again = await ensureExplorerBuilt();
    expect(again.dir).toBe(build.dir);
    expect(again.built).toBe(false);
  });

  it("answers index.html for client-side routes and serves hashed assets immutable and gzipped", async () => {
    for (const path of ["/", "/fact/some-id?model=demo-mbert", "/neuron/demo-mbert/3/117", "/relation/P17"]) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(await res.text()).toMatch(/<div id="app"><\/div>/);
    }
    const html = await (await fetch(server.url + "/")).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const res = await fetch(server.url + script); // fetch sends Accept-Encoding: gzip and inflates
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await res.text()).length).toBeGreaterThan(10_000);
  });

  it("refuses missing assets, paths out of the build and writes", async () => {
    const missing = await fetch(server.url + "/assets/nope-123.js");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe("NOT_FOUND");
    // a raw request line, so no client normalizes the dots away
    const traversal = await new Promise<number>((resolve) => {
      http.get(server.url + "/..%2f..%2fpackage.json", (r) => resolve(r.statusCode!)).end();
    });
    expect(traversal).toBe(404);
    const post = await fetch(server.url + "/", { method: "POST", body: "x" });
    expect(post.status).toBe(405);
  });

  it("answers 503 with a self-reloading page while the bundle is being built", async () => {
    const building = await listen(explorerHandler(new Promise<ExplorerBuild>(() => undefined)));
    try {
      const res = await fetch(building.url + "/fact/x");
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("3");
      expect(await res.text()).toContain('http-equiv="refresh"');
    } finally {
      await building.close();
    }
  });
});
