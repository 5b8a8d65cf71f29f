// Search: facts by subject or object label in any language, by prefix or substring (served by the
// pg_trgm indexes on the labels, see the README). One request.
import { useQuery } from "../api.ts";
import { Resolved } from "../components/status.tsx";
import { DataTable } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { TextMatch } from "../gql/graphql.ts";
import { navigate, routes } from "../router.ts";

const SEARCH = graphql(`
  query SearchFacts($text: String!, $match: TextMatch!, $language: String) {
    searchFacts(text: $text, match: $match, language: $language, first: 100) { language subject object field fact { id relation { id label } } }
  }
`);

export function SearchView({ q, match, language }: { q: string; match: TextMatch; language: string }) {
  return (
    <section data-view="search">
      <h1>Search facts</h1>
      <form
        class="controls"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          navigate(routes.search(String(f.get("q") ?? "").trim(), String(f.get("match")), String(f.get("lang") ?? "")));
        }}
      >
        <label>
          subject or object label
          <input name="q" type="search" defaultValue={q} autoFocus maxLength={100} />
        </label>
        <label>
          match
          <select name="match">
            <option value="SUBSTRING" selected={match === "SUBSTRING"}>
              contains
            </option>
            <option value="PREFIX" selected={match === "PREFIX"}>
              starts with
            </option>
          </select>
        </label>
        <label>
          language (empty: any)
          <input name="lang" defaultValue={language} size={4} />
        </label>
        <button class="primary" type="submit">
          Search
        </button>
      </form>
      {q && <Results text={q} match={match} language={language || null} />}
    </section>
  );
}

function Results({ text, match, language }: { text: string; match: TextMatch; language: string | null }) {
  const state = useQuery(SEARCH, { text, match, language });
  return (
    <Resolved state={state} what="matching facts">
      {({ searchFacts: hits }) => (
        <DataTable
          caption={`${hits.length} matching labels${hits.length === 100 ? " (first 100)" : ""}`}
          file={`search-${text}`}
          rows={hits}
          empty={`No subject or object label ${match === "PREFIX" ? "starts with" : "contains"} "${text}".`}
          columns={[
            { header: "subject", value: (h) => h.subject, render: (h) => <a href={routes.fact(h.fact.id, undefined, h.language)}>{h.subject}</a> },
            { header: "object", value: (h) => h.object },
            { header: "matched", value: (h) => h.field.toLowerCase() },
            { header: "language", value: (h) => h.language },
            { header: "relation", value: (h) => h.fact.relation.id, render: (h) => <a href={routes.relation(h.fact.relation.id)}>{h.fact.relation.id}</a> },
            { header: "fact id", value: (h) => h.fact.id },
          ]}
        />
      )}
    </Resolved>
  );
}
