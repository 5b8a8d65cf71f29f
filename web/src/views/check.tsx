// Fact-checking: a statement (subject, relation, object, language) → the model's verdict from its
// degenerate knowledge neurons, the checks recorded for that relation, and the stored evaluation
// against the model's own answer and the accept-all baseline. The statement lives in the URL, so
// a check is a link. Two requests: the catalog with the indexing coverage (which relation and
// language have degenerate neurons to check with), then the verdict, the recorded checks and the
// stored evaluations together. What is missing can be done from here with a write key: record the
// check (recordFactCheck), index the relation in the language (indexFacts), run the evaluation
// (evaluateFactChecking).
import { useState } from "preact/hooks";
import { ApiError, apiKey, request, useAction, useQuery } from "../api.ts";
import { ModelPicker } from "../components/pickers.tsx";
import { ErrorBox, NotFound, Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { CheckFactQuery } from "../gql/graphql.ts";
import { navigate, routes } from "../router.ts";
import { NeuronLink } from "./fact.tsx";

const BASE = graphql(`
  query CheckBase {
    models { name }
    relations { id label }
    languages { code }
    indexingCoverage { model relation language facts indexed degenerateSets }
  }
`);
// the verdict (when a statement is given and can be checked), recorded checks and stored evaluations in one request
const CHECK = graphql(`
  query CheckFact($model: String!, $language: String!, $check: Boolean!, $subject: String!, $relation: ID!, $object: String!) {
    checkFact(model: $model, subject: $subject, relation: $relation, object: $object, language: $language) @include(if: $check) {
      verdict score threshold neurons { layer unit }
    }
    factChecks(model: $model, relation: $relation, language: $language, first: 10) { id createdAt subject object verdict score threshold }
    factCheckingEvaluations(model: $model, language: $language) {
      createdAt threshold rho auroc
      withDkn { ...Metrics }
      baseline { ...Metrics }
      acceptAll { ...Metrics }
      relations { relation neurons withDkn { ...Metrics } baseline { ...Metrics } acceptAll { ...Metrics } }
    }
  }
  fragment Metrics on FactCheckingMetrics { precision recall f1 accuracy truePositives trueNegatives positives negatives }
`);
const RECORD = graphql(`
  mutation RecordFactCheck($model: String!, $subject: String!, $relation: ID!, $object: String!, $language: String!) {
    recordFactCheck(model: $model, subject: $subject, relation: $relation, object: $object, language: $language) { id createdAt verdict score }
  }
`);
const EVALUATE = graphql(`
  mutation EvaluateFactChecking($model: String!, $language: String!) { evaluateFactChecking(model: $model, language: $language) { createdAt } }
`);
const INDEX = graphql(`
  mutation IndexForCheck($model: String!, $relation: ID!, $language: String!) {
    indexFacts(model: $model, relations: [$relation], languages: [$language]) { id status total }
  }
`);

type Evaluation = NonNullable<CheckFactQuery["factCheckingEvaluations"]>[number];
interface Statement {
  subject: string;
  relation: string;
  object: string;
}

export function CheckView({ query }: { query: URLSearchParams }) {
  const state = useQuery(BASE, {});
  const [key, setKey] = useState(apiKey.get());
  return (
    <section data-view="check">
      <h1>Fact-checking</h1>
      <Resolved state={state} what="models and relations">
        {(d) => {
          const model = d.models.find((m) => m.name === query.get("model"))?.name ?? d.models[0]?.name ?? "";
          const language = query.get("lang") ?? "en";
          const statement = { subject: query.get("subject") ?? "", relation: query.get("relation") ?? "P17", object: query.get("object") ?? "" };
          // a URL naming what does not exist is a not-found view, as everywhere else
          const unknown =
            (query.get("model") !== null && model !== query.get("model") && `No model is called ${query.get("model")}.`) ||
            (!d.relations.some((r) => r.id === statement.relation) && `No relation has the id ${statement.relation}.`) ||
            (!d.languages.some((l) => l.code === language) && `No language has the code ${language}.`);
          if (unknown) return <NotFound what={unknown} />;
          const submitted = statement.subject !== "" && statement.object !== "";
          const coverage = (d.indexingCoverage ?? []).find((c) => c.model === model && c.relation === statement.relation && c.language === language) ?? null;
          const checkable = (coverage?.degenerateSets ?? 0) > 0;
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
                <label>
                  write API key (for recording, indexing, evaluating)
                  <input
                    name="apiKey"
                    type="password"
                    autocomplete="off"
                    value={key}
                    onInput={(e) => {
                      setKey(e.currentTarget.value);
                      apiKey.set(e.currentTarget.value);
                    }}
                  />
                </label>
              </form>
              <p class="sub">
                The verdict averages the statement's AMIG attribution over the degenerate knowledge neurons of the relation in the language (ALGORITHMS.md §7):
                supported when the score reaches the threshold. Checking only reads; <em>Record</em> stores the check.
              </p>
              <CheckResult model={model} language={language} statement={statement} submitted={submitted} checkable={checkable} coverage={coverage} apiKeyValue={key} />
            </>
          );
        }}
      </Resolved>
    </section>
  );
}

/** Runs a write with the typed key; a missing key is said before anything is sent. */
function useWrite(key: string) {
  const { busy, error, setError, run: runAction } = useAction();
  const run = async (what: string, action: () => Promise<void>) => {
    if (!key) {
      setError(new ApiError(`${what} needs a write API key (one of the server's KN_API_KEYS with write rights): type it in the key field above. Checking itself needs none.`, "UNAUTHENTICATED", 0));
      return;
    }
    await runAction(action);
  };
  return { busy, error, run };
}

function CheckResult(props: {
  model: string;
  language: string;
  statement: Statement;
  submitted: boolean;
  checkable: boolean;
  coverage: { facts: number; indexed: number; degenerateSets: number } | null;
  apiKeyValue: string;
}) {
  const { model, language, statement } = props;
  const state = useQuery(CHECK, { model, language, check: props.submitted && props.checkable, ...statement });
  return (
    <Resolved state={state} what={props.submitted ? "the verdict" : "the stored evaluation"}>
      {({ checkFact: c, factChecks, factCheckingEvaluations }) => (
        <>
          {c && <Verdict {...props} verdict={c} recorded={factChecks} reload={state.reload} />}
          {props.submitted && !props.checkable && <Uncheckable {...props} />}
          <RecordedChecks model={model} language={language} relation={statement.relation} checks={factChecks} />
          <StoredEvaluation model={model} language={language} evaluation={factCheckingEvaluations?.[0] ?? null} apiKeyValue={props.apiKeyValue} reload={state.reload} />
        </>
      )}
    </Resolved>
  );
}

type Verdict = NonNullable<CheckFactQuery["checkFact"]>;
type Recorded = CheckFactQuery["factChecks"];

function Verdict(props: { model: string; language: string; statement: Statement; verdict: Verdict; recorded: Recorded; apiKeyValue: string; reload: () => void }) {
  const { model, language, statement, verdict: c } = props;
  const write = useWrite(props.apiKeyValue);
  const same = props.recorded.find((r) => r.subject === statement.subject && r.object === statement.object);
  const record = () =>
    write.run("Recording a check", async () => {
      await request(RECORD, { model, language, ...statement }, { key: props.apiKeyValue });
      props.reload();
    });
  return (
    <div class="card" data-verdict={c.verdict}>
      <p class={`verdict ${c.verdict ? "ok" : "bad"}`}>{c.verdict ? "Supported" : "Not supported"}</p>
      <p>
        “{statement.subject}” — {statement.relation} — “{statement.object}” ({language}, {model})
      </p>
      <DataTable
        caption="Verdict"
        file="fact-check-verdict"
        rows={[
          { quantity: "score", value: c.score, shown: fmt(c.score, 6) },
          { quantity: "threshold τ_fc", value: c.threshold, shown: fmt(c.threshold, 6) },
          { quantity: "rule", value: `score ${c.verdict ? ">=" : "<"} threshold: ${c.verdict ? "supported" : "not supported"}`, shown: null },
          { quantity: `neurons used (${c.neurons.length})`, value: c.neurons.map((n) => `L${n.layer}:${n.unit}`).join(" "), shown: null },
        ]}
        columns={[
          { header: "quantity", value: (r) => r.quantity },
          {
            header: "value",
            value: (r) => r.value,
            render: (r) =>
              r.quantity === "score" ? (
                <span data-value="score">{r.shown}</span>
              ) : r.quantity === "threshold τ_fc" ? (
                <span data-value="threshold">{r.shown}</span>
              ) : r.quantity === "rule" ? (
                <>
                  score {c.verdict ? "≥" : "<"} threshold → {c.verdict ? "supported" : "not supported"}
                </>
              ) : (
                <span data-value="neurons">
                  {c.neurons.map((n) => (
                    <NeuronLink model={model} n={n} />
                  ))}
                </span>
              ),
          },
        ]}
      />
      <p>
        {same ? (
          <span data-recorded={same.id}>
            Recorded as check {same.id} ({same.createdAt}).{" "}
          </span>
        ) : (
          <span>This statement has not been recorded yet. </span>
        )}
        <button type="button" name="record" disabled={write.busy} onClick={record}>
          {write.busy ? "Recording…" : same ? "Record again" : "Record this check"}
        </button>
      </p>
      {write.error && <ErrorBox error={write.error} />}
    </div>
  );
}

/** A statement whose relation has no degenerate neurons in the language yet: say so, offer to index it. */
function Uncheckable(props: { model: string; language: string; statement: Statement; coverage: { facts: number; indexed: number } | null; apiKeyValue: string }) {
  const { model, language, statement, coverage } = props;
  const write = useWrite(props.apiKeyValue);
  const [job, setJob] = useState<{ id: string; total: number } | null>(null);
  const index = () =>
    write.run("Indexing", async () => {
      const { indexFacts } = await request(INDEX, { model, relation: statement.relation, language }, { key: props.apiKeyValue });
      setJob(indexFacts);
    });
  return (
    <div class="card" data-verdict-unavailable>
      <p>
        <strong>Cannot check this statement yet:</strong> {model} has no degenerate knowledge neurons of {statement.relation} in {language} (
        {coverage ? `${coverage.indexed} of ${coverage.facts} facts indexed` : "no facts of the relation in this language"}). The verdict averages over them, so the relation must be
        indexed in this language first (<code>kn index --model {model} --relations {statement.relation} --languages {language}</code>, or here with a write key).
      </p>
      {coverage && coverage.facts > 0 && (
        <p>
          <button type="button" name="index" disabled={write.busy || job !== null} onClick={index}>
            Index {statement.relation} in {language}
          </button>
          {job && (
            <span data-index-job={job.id}>
              {" "}
              Queued index job {job.id} ({job.total} runs): its progress is on the <a href={routes.overview()}>overview</a>; check again when it is done.
            </span>
          )}
        </p>
      )}
      {write.error && <ErrorBox error={write.error} />}
    </div>
  );
}

function RecordedChecks({ model, language, relation, checks }: { model: string; language: string; relation: string; checks: Recorded }) {
  return (
    <DataTable
      caption={`Recorded checks of ${relation} in ${language} (${model}, newest first)`}
      file={`fact-checks-${model}-${relation}-${language}`}
      rows={checks}
      empty="No check of this relation and language is recorded."
      columns={[
        { header: "check", value: (r) => r.id },
        { header: "recorded", value: (r) => r.createdAt },
        { header: "subject", value: (r) => r.subject },
        { header: "object", value: (r) => r.object },
        { header: "verdict", value: (r) => (r.verdict ? "supported" : "not supported") },
        { header: "score", value: (r) => r.score, numeric: true },
        { header: "threshold", value: (r) => r.threshold, numeric: true },
      ]}
    />
  );
}

function StoredEvaluation(props: { model: string; language: string; evaluation: Evaluation | null; apiKeyValue: string; reload: () => void }) {
  const { model, language, evaluation: e } = props;
  const write = useWrite(props.apiKeyValue);
  const evaluate = () =>
    write.run("Running the evaluation", async () => {
      await request(EVALUATE, { model, language }, { key: props.apiKeyValue });
      props.reload();
    });
  const button = (
    <button type="button" name="evaluate" disabled={write.busy} onClick={evaluate}>
      {write.busy ? "Evaluating…" : e ? "Evaluate again" : "Run the evaluation"}
    </button>
  );
  if (!e)
    return (
      <div class="card" data-evaluation="none">
        <p class="empty">
          No fact-checking evaluation of {model} in {language} is stored. It tests every indexed relation of the language on held-out facts and their wrong objects
          (<code>kn evaluate fact-checking --model {model} --language {language}</code>, or here with a write key).
        </p>
        {button}
        {write.error && <ErrorBox error={write.error} />}
      </div>
    );
  const methods = (m: { withDkn: Metrics; baseline: Metrics; acceptAll: Metrics }) => [
    { method: "DKN score ≥ τ_fc", ...m.withDkn },
    { method: "model's own answer", ...m.baseline },
    { method: "accept everything", ...m.acceptAll },
  ];
  const rows = [
    ...methods(e).map((m) => ({ scope: "all relations", neurons: null as number | null, ...m })),
    ...e.relations.flatMap((r) => methods(r).map((m) => ({ scope: r.relation, neurons: r.neurons, ...m }))),
  ];
  return (
    <div data-evaluation={e.createdAt}>
      <DataTable
        caption={`Stored evaluation (${e.createdAt}, τ_fc ${e.threshold}, ρ ${e.rho}${e.auroc == null ? "" : `, AUROC of the DKN score ${fmt(e.auroc, 3)}`}): DKN against the model's own answer and accepting everything`}
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
          { header: "true accepted", value: (r) => r.truePositives, numeric: true },
          { header: "wrong rejected", value: (r) => r.trueNegatives, numeric: true },
          { header: "true facts", value: (r) => r.positives, numeric: true },
          { header: "wrong facts", value: (r) => r.negatives, numeric: true },
        ]}
      />
      {button}
      {write.error && <ErrorBox error={write.error} />}
    </div>
  );
}

type Metrics = Evaluation["withDkn"];
