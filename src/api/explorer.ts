// The web explorer (web/, Vite + Preact): built by the server itself when its bundle is missing or
// stale, so `npm install && npm start` (and the tests) need no extra step, and served at `/` beside
// GraphQL. A build is keyed by a hash of everything that goes into it (web/ sources, the lockfile):
// it lands in web/dist/<hash>/ by an atomic rename, so two processes building at once (a server and
// a test) never serve a half-written folder, and a checkout that changes the sources gets a new one.
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import type http from "node:http";
import { extname, join, normalize, relative, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { sendError } from "./http.ts";

const ROOT = join(import.meta.dirname, "../..");
export const WEB_DIR = join(ROOT, "web");
const DIST_DIR = join(WEB_DIR, "dist");
/** Inputs of the build besides web/src: a change to any of them makes the bundle stale. */
const BUILD_INPUTS = ["web/index.html", "web/vite.config.ts", "web/tsconfig.json", "schema.graphql", "codegen.ts", "package-lock.json"];
/** The operation types generated from schema.graphql (npm run codegen): derived, so not hashed. */
const GENERATED_DIR = join(WEB_DIR, "src", "gql");
/** Old builds kept beside the current one (a page loaded before a rebuild still finds its chunks). */
const KEEP_BUILDS = 2;

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Hash of every input of the explorer's build. */
export function explorerSourceHash(): string {
  const hash = createHash("sha256");
  const sources = listFiles(join(WEB_DIR, "src")).filter((f) => !f.startsWith(GENERATED_DIR + sep));
  for (const file of [...sources, ...BUILD_INPUTS.map((f) => join(ROOT, f))]) {
    hash.update(relative(ROOT, file)).update("\0");
    if (existsSync(file)) hash.update(readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

export interface ExplorerBuild {
  dir: string;
  /** Whether this call ran Vite (false: an up-to-date build was found). */
  built: boolean;
  seconds: number;
}

/** The folder of the current build, running `vite build` first when there is none. */
export async function ensureExplorerBuilt(): Promise<ExplorerBuild> {
  const started = performance.now();
  const hash = explorerSourceHash();
  const dir = join(DIST_DIR, hash);
  if (existsSync(join(dir, "index.html"))) return { dir, built: false, seconds: 0 };
  const tmp = join(DIST_DIR, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(DIST_DIR, { recursive: true });
  // the views import their typed operations from web/src/gql, generated from schema.graphql
  await runNode(join(ROOT, "node_modules/@graphql-codegen/cli/esm/bin.js"), ["--config", join(ROOT, "codegen.ts"), "--silent"], ROOT, "graphql-codegen");
  await runNode(join(ROOT, "node_modules/vite/bin/vite.js"), ["build", "--config", join(WEB_DIR, "vite.config.ts"), "--outDir", tmp, "--emptyOutDir", "--logLevel", "warn"], WEB_DIR, "vite build").catch(
    (error: unknown) => {
      rmSync(tmp, { recursive: true, force: true });
      throw error;
    },
  );
  try {
    renameSync(tmp, dir);
  } catch (error) {
    // another process finished the same build first: keep its folder
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, "index.html"))) throw error;
  }
  pruneOldBuilds(hash);
  return { dir, built: true, seconds: (performance.now() - started) / 1000 };
}

function runNode(script: string, args: string[], cwd: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}:\n${output.slice(-4000)}`))));
  });
}

function pruneOldBuilds(current: string): void {
  const builds = readdirSync(DIST_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current && !e.name.startsWith("."))
    .map((e) => ({ path: join(DIST_DIR, e.name), mtime: statSync(join(DIST_DIR, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of builds.slice(KEEP_BUILDS - 1)) rmSync(old.path, { recursive: true, force: true });
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
};

const BUILDING_PAGE = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="3"><title>Knowledge-neuron explorer</title>
<p style="font-family:sans-serif">The explorer is being built (a few seconds on first start); this page reloads itself.</p>`;

/**
 * The request listener for every path that is not GraphQL: files of the build, and index.html for
 * any other path without an extension (the explorer routes in the browser: /fact/…, /neuron/…).
 * Until `build` settles it answers 503 with a page that reloads itself.
 */
export function explorerHandler(build: Promise<ExplorerBuild>): http.RequestListener {
  let dir: string | null = null;
  let failure: string | null = null;
  build.then((b) => (dir = b.dir)).catch((error: unknown) => (failure = error instanceof Error ? error.message : String(error)));
  return (req, res) => {
    const method = (req.method ?? "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      req.resume();
      sendError(res, 405, "METHOD_NOT_ALLOWED", `${method} is not supported here: the explorer is read with GET`, {}, { allow: "GET, HEAD" });
      return;
    }
    if (failure) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end(`the explorer could not be built:\n${failure}`);
      return;
    }
    if (!dir) {
      res.writeHead(503, { "content-type": "text/html; charset=utf-8", "retry-after": "3", "cache-control": "no-store" });
      res.end(method === "HEAD" ? undefined : BUILDING_PAGE);
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? "/", "http://localhost").pathname);
    } catch {
      sendError(res, 400, "BAD_REQUEST", "the path is not valid percent-encoding");
      return;
    }
    const file = normalize(join(dir, pathname));
    const inside = file.startsWith(dir + sep);
    if (inside && existsSync(file) && statSync(file).isFile()) {
      // hashed asset names never change content: cache them for good; index.html is revalidated
      const immutable = relative(dir, file).startsWith(`assets${sep}`);
      sendFile(req, res, method, file, immutable ? "public, max-age=31536000, immutable" : "no-cache");
      return;
    }
    if (extname(pathname) !== "") {
      sendError(res, 404, "NOT_FOUND", `nothing at ${pathname}`);
      return;
    }
    sendFile(req, res, method, join(dir, "index.html"), "no-cache");
  };
}

const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json"]);
/** Gzipped text files, compressed once: a build's files never change. */
const gzipped = new Map<string, Buffer>();

function sendFile(req: http.IncomingMessage, res: http.ServerResponse, method: string, file: string, cacheControl: string): void {
  const headers: http.OutgoingHttpHeaders = {
    "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
    "cache-control": cacheControl,
    "x-content-type-options": "nosniff",
  };
  if (COMPRESSIBLE.has(extname(file))) {
    headers.vary = "accept-encoding";
    if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
      let body = gzipped.get(file);
      if (!body) gzipped.set(file, (body = gzipSync(readFileSync(file), { level: 9 })));
      res.writeHead(200, { ...headers, "content-encoding": "gzip", "content-length": body.length });
      res.end(method === "HEAD" ? undefined : body);
      return;
    }
  }
  res.writeHead(200, { ...headers, "content-length": statSync(file).size });
  if (method === "HEAD") res.end();
  else createReadStream(file).pipe(res);
}
