// The explorer's only way to the server: GraphQL operations POSTed to /graphql (the public API a
// third-party frontend uses too). Errors keep the server's message and extensions.code.
import { useEffect, useRef, useState } from "preact/hooks";
import type { TypedDocumentString } from "./gql/graphql.ts";

export const GRAPHQL_URL = "/graphql";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A write key typed into the edit panel lives in this browser tab only (sessionStorage). */
const KEY_STORAGE = "kn-api-key";
export const apiKey = {
  get: (): string => sessionStorage.getItem(KEY_STORAGE) ?? "",
  set: (key: string): void => (key ? sessionStorage.setItem(KEY_STORAGE, key) : sessionStorage.removeItem(KEY_STORAGE)),
};

/** An operation written with graphql() (typed by `npm run codegen` from schema.graphql). */
export type Document<T, V> = TypedDocumentString<T, V>;

export async function request<T, V>(query: Document<T, V>, variables: V, options: { key?: string; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let res: Response;
  try {
    res = await fetch(GRAPHQL_URL, { method: "POST", headers, body: JSON.stringify({ query: query.toString(), variables }), signal: options.signal });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(`the server does not answer (${(error as Error).message})`, "NETWORK", 0);
  }
  let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`the server answered ${res.status} without a GraphQL body`, "BAD_RESPONSE", res.status);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? "ERROR", res.status);
  if (!body.data) throw new ApiError("the server answered without data", "BAD_RESPONSE", res.status);
  return body.data;
}

export type QueryState<T> = { status: "loading" } | { status: "error"; error: ApiError } | { status: "done"; data: T };

/** Runs `query` whenever its variables change; a newer run cancels the older one. */
export function useQuery<T, V>(query: Document<T, V>, variables: V, options: { skip?: boolean } = {}): QueryState<T> & { reload: () => void } {
  const [state, setState] = useState<QueryState<T>>({ status: "loading" });
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables);
  const shown = useRef("");
  useEffect(() => {
    if (options.skip) return;
    const controller = new AbortController();
    // a reload of the same query (polling) keeps showing the last answer until the next arrives
    if (shown.current !== query.toString() + key) setState({ status: "loading" });
    shown.current = query.toString() + key;
    request(query, variables, { signal: controller.signal }).then(
      (data) => setState({ status: "done", data }),
      (error: unknown) => {
        if ((error as Error).name === "AbortError") return;
        setState({ status: "error", error: error instanceof ApiError ? error : new ApiError(String(error), "ERROR", 0) });
      },
    );
    return () => controller.abort();
  }, [query, key, generation, options.skip]);
  return { ...state, reload: () => setGeneration((g) => g + 1) };
}

/** A write in flight: `busy` while it runs, and its error (an ApiError) when it fails. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(String(e), "ERROR", 0));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
