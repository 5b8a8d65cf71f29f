// Layout, navigation and the route table. Keyboard: every control is a link, button or form
// field in reading order; "/" jumps to the search box, "g" then o/s/c opens overview, search, check.
import { useEffect, useRef } from "preact/hooks";
import { NotFound } from "./components/status.tsx";
import { navigate, routes, useLocation } from "./router.ts";
import { CheckView } from "./views/check.tsx";
import { FactView } from "./views/fact.tsx";
import { NeuronView } from "./views/neuron.tsx";
import { OverviewView } from "./views/overview.tsx";
import { RelationView } from "./views/relation.tsx";
import { SearchView } from "./views/search.tsx";

function route(path: string, query: URLSearchParams) {
  let m: RegExpMatchArray | null;
  if (path === "/") return <OverviewView />;
  if (path === "/search") return <SearchView q={query.get("q") ?? ""} match={query.get("match") === "prefix" ? "PREFIX" : "SUBSTRING"} language={query.get("lang") ?? ""} />;
  if (path === "/check") return <CheckView query={query} />;
  if ((m = path.match(/^\/fact\/([^/]+)$/))) return <FactView id={decodeURIComponent(m[1])} model={query.get("model")} language={query.get("lang")} />;
  if ((m = path.match(/^\/relation\/([^/]+)$/)))
    return <RelationView id={decodeURIComponent(m[1])} model={query.get("model")} languages={query.get("langs")?.split(",").filter(Boolean) ?? null} />;
  if ((m = path.match(/^\/neuron\/([^/]+)\/(\d+)\/(\d+)$/))) return <NeuronView model={decodeURIComponent(m[1])} layer={Number(m[2])} unit={Number(m[3])} />;
  return <NotFound what={`No view at ${path}.`} />;
}

const isTyping = (el: EventTarget | null) => el instanceof HTMLElement && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

export function App() {
  const { path, query } = useLocation();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    let pendingG = false;
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      if (e.key === "/") {
        e.preventDefault();
        document.querySelector<HTMLInputElement>("#global-search")?.focus();
      } else if (pendingG) {
        pendingG = false;
        const target = { o: routes.overview(), s: routes.search(), c: routes.check() }[e.key];
        if (target) navigate(target);
      } else if (e.key === "g") pendingG = true;
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  // a new view moves focus to its content, so keyboard and screen-reader users land there
  useEffect(() => main.current?.focus({ preventScroll: true }), [path]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={routes.overview()}>
          Knowledge neurons
        </a>
        <nav aria-label="Views">
          <a href={routes.overview()} aria-current={path === "/" ? "page" : undefined}>
            Overview
          </a>
          <a href={routes.search()} aria-current={path === "/search" ? "page" : undefined}>
            Search
          </a>
          <a href={routes.check()} aria-current={path === "/check" ? "page" : undefined}>
            Fact-checking
          </a>
        </nav>
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            const q = (e.currentTarget.elements.namedItem("q") as HTMLInputElement).value.trim();
            navigate(routes.search(q));
          }}
        >
          <input id="global-search" name="q" type="search" placeholder="Search facts ( / )" aria-label="Search facts by subject or object" />
        </form>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {route(path, query)}
      </main>
      <footer>
        Keys: <kbd>/</kbd> search · <kbd>g</kbd> <kbd>o</kbd> overview · <kbd>g</kbd> <kbd>s</kbd> search · <kbd>g</kbd> <kbd>c</kbd> fact-checking · data from{" "}
        <a href="/graphql" target="_blank" rel="noopener">
          /graphql
        </a>
      </footer>
    </>
  );
}
