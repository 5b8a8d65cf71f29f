// Fact-checking: a statement (subject, relation, object, language) → the model's verdict from its
// degenerate knowledge neurons, and the stored evaluation against the direct-model baseline. The
// statement lives in the URL, so a check is a link.
import { useQuery } from "../api.ts";
import { ModelPicker } from "../components/pickers.tsx";
import { Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { navigate, routes } from "../router.ts";
import { graphql } from "../gql/index.ts";
import type { CheckFactQuery } from "../gql/graphql.ts";
import { NeuronLink } from "./fact.tsx";

const BASE = graphql(`
  query CheckBase { models { name } relations { id label } languages { code } }
`);
// the verdict (when a statement is given) and the stored evaluation in one request
const CHECK = graphql(`
  query CheckFact($model: String!, $language: String!, $check: Boolean!, $subject: String!, $relation: ID!, $object: String!) {
    checkFact(model: $model, subject: $subject, relation: $relation, object: $object, language: $language) @include(if: $check) {
      verdict score threshold neurons { layer unit }
    }
    factCheckingEvaluations(model: $model, language: $language) {
      createdAt threshold rho
      withDkn { ...Metrics }
      baseline { ...Metrics }
      relations { relation neurons withDkn { ...Metrics } baseline { ...Metrics } }
    }
  }
  fragment Metrics on FactCheckingMetrics { precision recall f1 accuracy positives negatives }
`);
type Evaluation = NonNullable<CheckFactQuery["factCheckingEvaluations"]>[number];

export function CheckView({ query }: { query: URLSearchParams }) {
  const state = useQuery(BASE, {});
  return (
    <section data-view="check">
      <h1>Fact-checking</h1>
      <Resolved state={state} what="models and relations">
        {(d) => {
          const model = d.models.find((m) => m.name === query.get("model"))?.name ?? d.models[0]?.name ?? "";
          const language = query.get("lang") ?? "en";
          const statement = { subject: query.get("subject") ?? "", relation: query.get("relation") ?? "P17", object: query.get("object") ?? "" };
          const submitted = statement.subject !== "" && statement.object !== "";
          return (
            <>
              <form
                class="controls"
                onSubmit={(e) => {
                  e.preventDefault();
                  const f = new FormData(e.currentTarget);
                  const get = (k: string) => String(f.get(k) ?? "").trim();
                  navigate(routes.check({ model: get("model"), subject: get("subject"), relation: get("relation"), object: get("object"), lang: get("lang") }));
                }}
              >
                <ModelPicker models={d.models} value={model} />
                <label>
                  subject
                  <input name="subject" defaultValue={statement.subject} required />
                </label>
                <label>
                  relation
                  <select name="relation">
                    {d.relations.map((r) => (
                      <option value={r.id} selected={r.id === statement.relation}>
                        {r.id} {r.label}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  object
                  <input name="object" defaultValue={statement.object} required />
                </label>
                <label>
                  language
                  <select name="lang">
                    {d.languages.map((l) => (
                      <option value={l.code} selected={l.code === language}>
                        {l.code}
                      </option>
                    ))}
                  </select>
                </label>
                <button class="primary" type="submit">
                  Check
                </button>
              </form>
              <CheckResult model={model} language={language} check={submitted} {...statement} />
            </>
          );
        }}
      </Resolved>
    </section>
  );
}

function CheckResult(props: { model: string; language: string; check: boolean; subject: string; relation: string; object: string }) {
  const state = useQuery(CHECK, props);
  return (
    <Resolved state={state} what={props.check ? "the verdict" : "the stored evaluation"}>
      {({ checkFact: c, factCheckingEvaluations }) => (
        <>
          {c && (
            <div class="card" data-verdict={c.verdict}>
              <p class={`verdict ${c.verdict ? "ok" : "bad"}`}>{c.verdict ? "Supported" : "Not supported"}</p>
              <p>
                score {fmt(c.score, 6)} {c.verdict ? "≥" : "<"} threshold {fmt(c.threshold, 6)} · averaged over {c.neurons.length} degenerate knowledge neurons of{" "}
                {props.relation}: {c.neurons.map((n) => <NeuronLink model={props.model} n={n} />)}
              </p>
            </div>
          )}
          <StoredEvaluation model={props.model} language={props.language} evaluation={factCheckingEvaluations?.[0] ?? null} />
        </>
      )}
    </Resolved>
  );
}

function StoredEvaluation({ model, language, evaluation: e }: { model: string; language: string; evaluation: Evaluation | null }) {
  if (!e) return <p class="empty">No fact-checking evaluation of {model} in {language} is stored (kn evaluate fact-checking).</p>;
  const rows = [
    { scope: "all relations", method: "DKN", neurons: null, ...e.withDkn },
    { scope: "all relations", method: "baseline", neurons: null, ...e.baseline },
    ...e.relations.flatMap((r) => [
      { scope: r.relation, method: "DKN", neurons: r.neurons, ...r.withDkn },
      { scope: r.relation, method: "baseline", neurons: r.neurons, ...r.baseline },
    ]),
  ];
  return (
    <DataTable
      caption={`Stored evaluation (${e.createdAt}, threshold ${e.threshold}, ρ ${e.rho}): DKN against the model's own answer`}
      file={`fact-checking-${model}-${language}`}
      rows={rows}
      columns={[
        { header: "relation", value: (r) => r.scope },
        { header: "method", value: (r) => r.method },
        { header: "DKN neurons", value: (r) => r.neurons, numeric: true },
        { header: "precision", value: (r) => r.precision, numeric: true },
        { header: "recall", value: (r) => r.recall, numeric: true },
        { header: "F1", value: (r) => r.f1, numeric: true },
        { header: "accuracy", value: (r) => r.accuracy, numeric: true },
        { header: "true facts", value: (r) => r.positives, numeric: true },
        { header: "false facts", value: (r) => r.negatives, numeric: true },
      ]}
    />
  );
}
