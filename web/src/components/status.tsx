import type { ComponentChildren } from "preact";
import type { ApiError, QueryState } from "../api.ts";
import { routes } from "../router.ts";

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: ApiError; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <strong>{error.code}</strong>: {error.message}
      {retry && (
        <button type="button" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function NotFound({ what }: { what: string }) {
  return (
    <section class="not-found" data-view="not-found">
      <h1>Not found</h1>
      <p>{what}</p>
      <p>
        <a href={routes.overview()}>Back to the overview</a> · <a href={routes.search()}>Search facts</a>
      </p>
    </section>
  );
}

/** Loading, error (NOT_FOUND becomes the not-found view) or the content of a query. */
export function Resolved<T>({ state, what, children }: { state: QueryState<T> & { reload?: () => void }; what: string; children: (data: T) => ComponentChildren }) {
  if (state.status === "loading") return <Loading what={what} />;
  if (state.status === "error") {
    if (state.error.code === "NOT_FOUND") return <NotFound what={state.error.message} />;
    return <ErrorBox error={state.error} retry={state.reload} />;
  }
  return <>{children(state.data)}</>;
}
