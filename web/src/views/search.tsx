// Search: facts by subject or object label in any language.
import { useQuery } from "../api.ts";
import { Resolved } from "../components/status.tsx";
import { DataTable } from "../components/table.tsx";
import { navigate, routes } from "../router.ts";

interface SearchData {
  facts: { totalCount: number; edges: { node: { id: string; relation: { id: string }; labels: { language: string; subject: string; object: string }[] } }[] };
}

// Until the API has a label search, the explorer pages through facts and filters them here.
const SEARCH = `query SearchFacts { facts(first: 100) { totalCount edges { node { id relation { id } labels { language subject object } } } } }`;

export function SearchView({ q, language }: { q: string; language: string }) {
  return (
    <section data-view="search">
      <h1>Search facts</h1>
      <form
        class="controls"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(routes.search(String(new FormData(e.currentTarget).get("q") ?? "").trim()));
        }}
      >
        <label>
          subject or object, any language
          <input name="q" type="search" defaultValue={q} autoFocus />
        </label>
        <button class="primary" type="submit">
          Search
        </button>
      </form>
      {q && <Results q={q} language={language} />}
    </section>
  );
}

function Results({ q }: { q: string; language: string }) {
  const state = useQuery<SearchData>(SEARCH, { q });
  return (
    <Resolved state={state} what="matching facts">
      {(d) => {
        const needle = q.toLowerCase();
        const rows = d.facts.edges.flatMap((e) =>
          e.node.labels
            .filter((l) => l.subject.toLowerCase().includes(needle) || l.object.toLowerCase().includes(needle))
            .map((l) => ({ id: e.node.id, relation: e.node.relation.id, ...l })),
        );
        return (
          <DataTable
            caption={`${rows.length} matching labels`}
            file={`search-${q}`}
            rows={rows}
            empty={`No fact label contains "${q}".`}
            columns={[
              { header: "subject", value: (r) => r.subject, render: (r) => <a href={routes.fact(r.id, undefined, r.language)}>{r.subject}</a> },
              { header: "object", value: (r) => r.object },
              { header: "language", value: (r) => r.language },
              { header: "relation", value: (r) => r.relation, render: (r) => <a href={routes.relation(r.relation)}>{r.relation}</a> },
            ]}
          />
        );
      }}
    </Resolved>
  );
}
