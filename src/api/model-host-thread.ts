// ThreadModelHost: the model host in a worker thread (node:worker_threads), so model work never
// runs on the API's event loop. The worker (model-host-worker.ts) owns the live models, their
// active edits and its own database pool; this side sends typed requests and awaits the replies.
// Errors keep their class across the thread: a GraphQLError keeps its extensions (code, argument),
// a ModelError its code, anything else its name and message.
import { Worker } from "node:worker_threads";
import { GraphQLError } from "graphql";
import { ModelError, type ModelErrorCode } from "../model/errors.ts";
import type { ModelHost } from "./model-host.ts";

/** The host operations that cross the thread (close is handled by the transport itself). */
export type HostMethod = Exclude<keyof ModelHost, "close">;

export interface HostRequest<M extends HostMethod = HostMethod> {
  id: number;
  method: M;
  args: Parameters<ModelHost[M]>;
}

export type WireError =
  | { kind: "graphql"; message: string; extensions: Record<string, unknown> }
  | { kind: "model"; code: ModelErrorCode; message: string }
  | { kind: "error"; name: string; message: string; stack?: string };

export type HostReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export interface HostWorkerData {
  databaseUrl: string;
}

export function toWire(err: unknown): WireError {
  if (err instanceof GraphQLError) return { kind: "graphql", message: err.message, extensions: { ...err.extensions } };
  if (err instanceof ModelError) return { kind: "model", code: err.code, message: err.message };
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: "error", name: e.name, message: e.message, stack: e.stack };
}

export function fromWire(w: WireError): Error {
  if (w.kind === "graphql") return new GraphQLError(w.message, { extensions: w.extensions });
  if (w.kind === "model") return new ModelError(w.code, w.message);
  const e = new Error(w.message);
  e.name = w.name;
  if (w.stack) e.stack = w.stack;
  return e;
}

export class ThreadModelHost implements ModelHost {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly databaseUrl: string) {}

  /** The worker, started on first use and again after a crash (models reload with the database's edits). */
  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL("./model-host-worker.mjs", import.meta.url), {
      workerData: { databaseUrl: this.databaseUrl } satisfies HostWorkerData,
    });
    worker.on("message", (reply: HostReply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      if (reply.ok) call.resolve(reply.value);
      else call.reject(fromWire(reply.error));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const call of this.pending.values()) call.reject(new Error(`the model host thread stopped: ${err.message}`));
      this.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private call<M extends HostMethod>(method: M, ...args: Parameters<ModelHost[M]>): Promise<Awaited<ReturnType<ModelHost[M]>>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.thread().postMessage({ id, method, args } satisfies HostRequest<M>);
    });
  }

  predict: ModelHost["predict"] = (...a) => this.call("predict", ...a);
  checkFact: ModelHost["checkFact"] = (...a) => this.call("checkFact", ...a);
  evaluateFactChecking: ModelHost["evaluateFactChecking"] = (...a) => this.call("evaluateFactChecking", ...a);
  attributionGrid: ModelHost["attributionGrid"] = (...a) => this.call("attributionGrid", ...a);
  promotedTokens: ModelHost["promotedTokens"] = (...a) => this.call("promotedTokens", ...a);
  applyEdit: ModelHost["applyEdit"] = (...a) => this.call("applyEdit", ...a);
  revertEdit: ModelHost["revertEdit"] = (...a) => this.call("revertEdit", ...a);
  reconcile: ModelHost["reconcile"] = (...a) => this.call("reconcile", ...a);
  loadedCheckpoints: ModelHost["loadedCheckpoints"] = (...a) => this.call("loadedCheckpoints", ...a);
  restoreActiveEdits: ModelHost["restoreActiveEdits"] = (...a) => this.call("restoreActiveEdits", ...a);

  /** Lets queued work finish, frees the models and the worker's pool, and ends the thread. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.postMessage("close");
    await exited;
    this.worker = null;
  }
}
