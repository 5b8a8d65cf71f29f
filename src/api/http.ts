// The HTTP side of the API: Node's http module in front of Apollo's executeHTTPGraphQLRequest
// (Apollo's standalone server accepts 50 MB bodies, answers any origin, and reports body errors as
// HTML). Here:
//   - GraphQL is served at /graphql (GET and POST), GET /healthz answers load balancers, and any
//     other path goes to `fallback` (the web explorer) or gets a JSON 404;
//   - request bodies are read up to maxBodyBytes: a longer one is answered 413 PAYLOAD_TOO_LARGE
//     without being parsed; a body that is not UTF-8 or not JSON is 400 BAD_REQUEST, a charset other
//     than UTF-8 415;
//   - a batch (a JSON array of operations) longer than maxBatch is 400 BATCH_TOO_LARGE; the
//     operations of a batch share one cost limit and count against the compute budgets field by field;
//   - browsers on other origins are let in only when their Origin is in corsOrigins (KN_CORS_ORIGINS;
//     "*" for any); a request from another origin that is not listed is 403 ORIGIN_NOT_ALLOWED.
// Every refusal is a JSON GraphQL error with extensions.code. Every GraphQL answer carries a
// Server-Timing header with the request's server time (server-timing.ts).
import http from "node:http";
import type { ApolloServer, BaseContext } from "@apollo/server";
import { HeaderMap } from "@apollo/server";
import { timed } from "./server-timing.ts";

export interface HttpOptions {
  maxBodyBytes: number;
  /** Most operations in one batched POST (1: batches of one only). */
  maxBatch: number;
  /** Origins allowed to call from a browser; "*" allows any. */
  corsOrigins: readonly string[];
  /** Take the client address from the last X-Forwarded-For entry (behind a load balancer). */
  trustProxy: boolean;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = { maxBodyBytes: 1_000_000, maxBatch: 10, corsOrigins: [], trustProxy: false };

export const GRAPHQL_PATH = "/graphql";
/** Methods and request headers a cross-origin browser client may use. */
const CORS_METHODS = "GET, POST, OPTIONS";
const CORS_HEADERS = "authorization, content-type, apollo-require-preflight, x-apollo-operation-name";
/** How long a browser may cache a preflight answer. */
const CORS_MAX_AGE_SECONDS = 600;
/** Beyond this many bytes of an oversize body the connection is cut rather than drained. */
const DRAIN_LIMIT_FACTOR = 16;

export type HttpErrorCode = "PAYLOAD_TOO_LARGE" | "BAD_REQUEST" | "UNSUPPORTED_MEDIA_TYPE" | "BATCH_TOO_LARGE" | "ORIGIN_NOT_ALLOWED" | "NOT_FOUND" | "METHOD_NOT_ALLOWED";

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: http.ServerResponse, status: number, code: HttpErrorCode, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  sendJson(res, status, { errors: [{ message, extensions: { code, ...extra } }] }, headers);
}

/** The client's address; behind a trusted load balancer, the address it appended to X-Forwarded-For. */
export function clientAddress(req: http.IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers["x-forwarded-for"];
    const last = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded)?.split(",").map((s) => s.trim()).filter(Boolean).at(-1);
    if (last) return last;
  }
  return req.socket.remoteAddress ?? "unknown";
}

type BodyResult = { ok: true; body: Buffer } | { ok: false; bytes: number };

/** Reads the body up to `limit` bytes; past it, drains (or cuts) the rest and reports how much came. */
function readBody(req: http.IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (!over && bytes > limit) {
        over = true;
        chunks.length = 0;
        resolve({ ok: false, bytes });
      }
      if (over) {
        if (bytes > limit * DRAIN_LIMIT_FACTOR) req.socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!over) resolve({ ok: true, body: Buffer.concat(chunks) });
    });
    req.on("error", reject);
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** CORS: the headers to add, or null when the origin is refused. */
function corsHeaders(req: http.IncomingMessage, allowed: readonly string[]): Record<string, string> | null {
  const origin = req.headers.origin;
  if (!origin) return {};
  // a browser on the API's own origin (the explorer served here) is not cross-origin
  const host = req.headers.host;
  const sameOrigin = host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  if (sameOrigin) return {};
  // a page on another origin may read the Server-Timing header (server-timing.ts) too
  const expose = { "access-control-expose-headers": "server-timing", "timing-allow-origin": "*" };
  if (allowed.includes("*")) return { "access-control-allow-origin": "*", ...expose };
  if (allowed.includes(origin)) return { "access-control-allow-origin": origin, vary: "Origin", ...expose };
  return null;
}

export interface HttpHandlerOptions<C extends BaseContext> extends HttpOptions {
  apollo: ApolloServer<C>;
  /** Builds the context of one HTTP request (throw a GraphQLError to refuse it). */
  context: (req: http.IncomingMessage, clientAddress: string) => Promise<C>;
  /** Liveness for GET /healthz: whether the database answers. */
  health: () => Promise<{ ok: boolean; database: boolean }>;
  /** Requests for paths other than /graphql and /healthz (the web explorer). */
  fallback?: http.RequestListener;
}

export function createHttpHandler<C extends BaseContext>(options: HttpHandlerOptions<C>): http.RequestListener {
  return (req, res) => {
    handle(req, res, options).catch((error: unknown) => {
      console.error(`http: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendJson(res, 500, { errors: [{ message: "internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
    });
  };
}

async function handle<C extends BaseContext>(req: http.IncomingMessage, res: http.ServerResponse, options: HttpHandlerOptions<C>): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = (req.method ?? "GET").toUpperCase();
  if (url.pathname === "/healthz" && (method === "GET" || method === "HEAD")) {
    const health = await options.health();
    sendJson(res, health.ok ? 200 : 503, health);
    return;
  }
  if (url.pathname !== GRAPHQL_PATH) {
    if (options.fallback) options.fallback(req, res);
    else sendError(res, 404, "NOT_FOUND", `nothing at ${url.pathname}: GraphQL is served at ${GRAPHQL_PATH}`);
    return;
  }
  const cors = corsHeaders(req, options.corsOrigins);
  if (!cors) {
    req.resume();
    sendError(res, 403, "ORIGIN_NOT_ALLOWED", `origin ${JSON.stringify(req.headers.origin)} may not call this API (the server's KN_CORS_ORIGINS does not list it)`);
    return;
  }
  for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
  if (method === "OPTIONS") {
    res.writeHead(204, {
      "access-control-allow-methods": CORS_METHODS,
      "access-control-allow-headers": CORS_HEADERS,
      "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
    });
    res.end();
    return;
  }
  if (method !== "GET" && method !== "POST") {
    req.resume();
    sendError(res, 405, "METHOD_NOT_ALLOWED", `${method} is not supported: use GET or POST`, {}, { allow: "GET, POST, OPTIONS" });
    return;
  }

  let body: unknown;
  if (method === "POST") {
    const declared = Number(req.headers["content-length"]);
    const tooLarge = () =>
      sendError(res, 413, "PAYLOAD_TOO_LARGE", `request body exceeds the limit of ${options.maxBodyBytes} bytes`, { limit: options.maxBodyBytes }, { connection: "close" });
    if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
      tooLarge();
      readBody(req, 0).catch(() => undefined); // drain what the client still sends, up to the cut-off
      return;
    }
    const read = await readBody(req, options.maxBodyBytes);
    if (!read.ok) {
      tooLarge();
      return;
    }
    const contentType = req.headers["content-type"] ?? "";
    const charset = /charset=([^;]+)/i.exec(contentType)?.[1]?.trim().replace(/"/g, "").toLowerCase();
    if (charset && charset !== "utf-8" && charset !== "utf8") {
      sendError(res, 415, "UNSUPPORTED_MEDIA_TYPE", `charset ${JSON.stringify(charset)} is not supported: send UTF-8`);
      return;
    }
    if (/^application\/(graphql-response\+)?json\b/i.test(contentType)) {
      let text: string;
      try {
        text = utf8.decode(read.body);
      } catch {
        sendError(res, 400, "BAD_REQUEST", "the request body is not valid UTF-8");
        return;
      }
      try {
        body = JSON.parse(text);
      } catch (error) {
        sendError(res, 400, "BAD_REQUEST", `the request body is not valid JSON: ${(error as Error).message}`);
        return;
      }
      if (Array.isArray(body) && body.length > options.maxBatch) {
        sendError(res, 400, "BATCH_TOO_LARGE", `a batch may hold at most ${options.maxBatch} operations (got ${body.length})`, { limit: options.maxBatch });
        return;
      }
    }
    // other content types reach Apollo without a body and are refused there (400, CSRF prevention)
  }

  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
  const address = clientAddress(req, options.trustProxy);
  const { result: response, header: serverTiming } = await timed(() =>
    options.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search: url.search, body },
      context: () => options.context(req, address),
    }),
  );
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.setHeader("server-timing", serverTiming());
  res.statusCode = response.status ?? 200;
  if (response.body.kind === "complete") {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}
