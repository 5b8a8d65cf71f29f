// Routing on the History API: every view is a path (deep links), links are plain <a href> (so
// keyboard, middle-click and copy-link work), and clicks on same-origin links are handled here.
import { useEffect, useState } from "preact/hooks";

export interface Location {
  path: string;
  query: URLSearchParams;
}

const current = (): Location => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });
const listeners = new Set<() => void>();

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  listeners.forEach((l) => l());
  if (!options.replace) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return location;
}

/** Intercepts clicks on internal links (not modified clicks, not new tabs). */
export function installLinkHandler(): void {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = (event.target as Element).closest?.("a");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith("/graphql")) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}

/** Builds a path with a query string from the defined values. */
export function href(path: string, query: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export const routes = {
  overview: () => "/",
  search: (q?: string, match?: string, language?: string) => href("/search", { q, match: match === "PREFIX" ? "prefix" : undefined, lang: language }),
  fact: (id: string, model?: string, language?: string) => href(`/fact/${encodeURIComponent(id)}`, { model, lang: language }),
  relation: (id: string, model?: string, languages?: string[]) => href(`/relation/${encodeURIComponent(id)}`, { model, langs: languages?.join(",") }),
  neuron: (model: string, layer: number, unit: number) => `/neuron/${encodeURIComponent(model)}/${layer}/${unit}`,
  check: (query: Record<string, string | undefined> = {}) => href("/check", query),
};
