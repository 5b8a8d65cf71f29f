// Every API replica keeps the models it serves in memory, with the active edits applied. When one
// replica applies or reverts an edit, the others learn it from PostgreSQL: the store announces the
// change with NOTIFY on EDIT_CHANNEL in the same transaction that writes it (so it is heard only
// once committed), and each replica LISTENs. A notification can be missed while the listening
// connection is down, so after every (re)connection the listener asks for a full resync; a
// heartbeat finds a connection that died without closing (network cut).
import pg from "pg";

export const EDIT_CHANNEL = "kn_edit";

export interface EditChange {
  checkpointId: number;
  editId: string;
  status: "ACTIVE" | "REVERTED";
}

/** The SQL expression that announces a change, from SQL expressions of its three parts. */
export function announceEditExpression(checkpointId: string, editId: string, status: string): string {
  return `pg_notify('${EDIT_CHANNEL}', json_build_object('checkpointId', (${checkpointId})::int, 'editId', (${editId})::text, 'status', (${status})::text)::text)`;
}

export function parseEditChange(payload: string | undefined): EditChange | null {
  try {
    const x = JSON.parse(payload ?? "") as Partial<EditChange>;
    if (typeof x.checkpointId !== "number" || typeof x.editId !== "string" || (x.status !== "ACTIVE" && x.status !== "REVERTED")) return null;
    return { checkpointId: x.checkpointId, editId: x.editId, status: x.status };
  } catch {
    return null;
  }
}

export interface EditListenerHandlers {
  /** A committed change of one checkpoint's edits. */
  onChange(change: EditChange): void;
  /** (Re)connected: changes may have been missed, every loaded checkpoint must be reconciled. */
  onResync(): void;
  log?: (line: string) => void;
}

export interface EditListenerOptions {
  connectTimeoutMs?: number;
  /** How often the listening connection is checked (default 10 s). */
  heartbeatMs?: number;
}

export interface EditListener {
  /** Resolves once the first LISTEN is in place. */
  ready: Promise<void>;
  connected(): boolean;
  close(): Promise<void>;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;

export function listenForEditChanges(url: string, handlers: EditListenerHandlers, options: EditListenerOptions = {}): EditListener {
  const log = handlers.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  let client: pg.Client | null = null;
  let closed = false;
  let isConnected = false;
  let retryMs = FIRST_RETRY_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const drop = (current: pg.Client, reason: string) => {
    if (client !== current) return; // already replaced
    client = null;
    isConnected = false;
    clearInterval(heartbeat);
    current.removeAllListeners("notification");
    current.end().catch(() => undefined);
    if (closed) return;
    log(`edit notifications: connection lost (${reason}); reconnecting`);
    schedule();
  };

  const schedule = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  const connect = async () => {
    if (closed) return;
    const current = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, keepAlive: true, application_name: "kn-edit-listener", query_timeout: connectTimeoutMs });
    client = current;
    current.on("error", (error) => drop(current, error.message));
    current.on("end", () => drop(current, "closed by the server"));
    current.on("notification", (message) => {
      const change = message.channel === EDIT_CHANNEL ? parseEditChange(message.payload) : null;
      if (change) handlers.onChange(change);
    });
    try {
      await current.connect();
      await current.query(`LISTEN ${EDIT_CHANNEL}`);
    } catch (error) {
      drop(current, (error as Error).message);
      return;
    }
    if (client !== current || closed) return;
    isConnected = true;
    retryMs = FIRST_RETRY_MS;
    heartbeat = setInterval(() => {
      current.query("SELECT 1").catch((error: Error) => drop(current, `heartbeat: ${error.message}`));
    }, heartbeatMs);
    heartbeat.unref();
    handlers.onResync();
    markReady();
  };

  void connect();
  return {
    ready,
    connected: () => isConnected,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeat);
      const current = client;
      client = null;
      isConnected = false;
      await current?.end().catch(() => undefined);
    },
  };
}
