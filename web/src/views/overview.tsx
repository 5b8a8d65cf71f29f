// Overview: models, languages, relations with fact counts, indexing coverage (model × relation ×
// language) and index jobs: one request, repeated every 2 s while a job is queued or running.
import { useEffect, useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { OverviewQuery } from "../gql/graphql.ts";
import { routes } from "../router.ts";

const OVERVIEW = graphql(`
  query Overview {
    models { name architecture modelType layers hidden width vocabSize tokenizer { kind vocabSize } }
    languages { code name factCount }
    relations { id label factCount }
    indexingCoverage { model relation language facts indexed share knowledgeNeurons }
    indexJobs(first: 10) { id model method status total done failed pending rate eta languages relations createdAt }
  }
`);

const POLL_MS = 2000;

export function OverviewView() {
  const state = useQuery(OVERVIEW, {});
  const active = state.status === "done" && state.data.indexJobs.some((j) => j.status === "QUEUED" || j.status === "RUNNING");
  useEffect(() => {
    if (!active) return;
    const timer = setTimeout(state.reload, POLL_MS);
    return () => clearTimeout(timer);
  });
  return (
    <section data-view="overview">
      <h1>Overview</h1>
      <Resolved state={state} what="the overview">
        {(d) => (
          <>
            <DataTable
              caption="Models"
              file="models"
              rows={d.models}
              columns={[
                { header: "model", value: (m) => m.name },
                { header: "architecture", value: (m) => m.architecture },
                { header: "type", value: (m) => m.modelType },
                { header: "layers", value: (m) => m.layers, numeric: true },
                { header: "hidden", value: (m) => m.hidden, numeric: true },
                { header: "FFN width", value: (m) => m.width, numeric: true },
                { header: "tokenizer", value: (m) => m.tokenizer.kind },
                { header: "vocabulary", value: (m) => m.vocabSize, numeric: true },
              ]}
            />
            <Jobs jobs={d.indexJobs} />
            <div class="grid2">
              <DataTable
                caption="Relations"
                file="relations"
                rows={d.relations}
                columns={[
                  { header: "relation", value: (r) => r.id, render: (r) => <a href={routes.relation(r.id)}>{r.id}</a> },
                  { header: "label", value: (r) => r.label },
                  { header: "facts", value: (r) => r.factCount, numeric: true },
                ]}
              />
              <DataTable
                caption="Languages"
                file="languages"
                rows={d.languages}
                columns={[
                  { header: "code", value: (l) => l.code },
                  { header: "language", value: (l) => l.name },
                  { header: "facts", value: (l) => l.factCount, numeric: true },
                ]}
              />
            </div>
            <Coverage coverage={d.indexingCoverage ?? []} />
          </>
        )}
      </Resolved>
    </section>
  );
}

type Job = OverviewQuery["indexJobs"][number];

function Jobs({ jobs }: { jobs: Job[] }) {
  return (
    <DataTable
      caption="Index jobs"
      file="index-jobs"
      rows={jobs}
      empty="No index job yet (kn index, or the indexFacts mutation)."
      columns={[
        { header: "job", value: (j) => j.id },
        { header: "model", value: (j) => j.model },
        { header: "status", value: (j) => j.status },
        { header: "relations", value: (j) => j.relations.join(" ") || "all" },
        { header: "languages", value: (j) => j.languages.join(" ") || "all" },
        {
          header: "progress",
          value: (j) => `${j.done}/${j.total}`,
          render: (j) => (
            <>
              <progress max={j.total} value={j.done + j.failed} aria-label={`job ${j.id} progress`} /> {j.done}/{j.total}
              {j.failed ? <span class="bad"> ({j.failed} failed)</span> : null}
            </>
          ),
        },
        { header: "runs/s", value: (j) => j.rate, numeric: true, render: (j) => fmt(j.rate, 2) },
        { header: "ETA s", value: (j) => j.eta, numeric: true, render: (j) => (j.eta === null || j.eta === undefined ? "–" : Math.round(j.eta)) },
        { header: "created", value: (j) => j.createdAt },
      ]}
    />
  );
}

type CoverageRow = NonNullable<OverviewQuery["indexingCoverage"]>[number];

function Coverage({ coverage }: { coverage: CoverageRow[] }) {
  const models = [...new Set(coverage.map((c) => c.model))];
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 900,
      height: 120 + models.length * 180,
      marginLeft: 50,
      marginRight: 90,
      padding: 0.06,
      x: { label: null, axis: "top" },
      y: { label: null },
      fy: { label: null },
      color: { type: "linear", domain: [0, 1], scheme: "Greens", legend: true, label: "share of facts indexed" },
      marks: [
        Plot.cell(coverage, { x: "relation", y: "language", fy: "model", fill: "share", tip: true, title: (c: CoverageRow) => `${c.model} ${c.relation} ${c.language}: ${c.indexed}/${c.facts} facts, ${c.knowledgeNeurons} KNs` }),
        Plot.text(coverage, { x: "relation", y: "language", fy: "model", text: (c: CoverageRow) => (c.indexed ? String(c.indexed) : ""), fill: (c: CoverageRow) => (c.share > 0.6 ? "white" : "black") }),
      ],
    }),
    [JSON.stringify(coverage)],
  );
  return (
    <>
      <h2>Indexing coverage</h2>
      <p class="sub">Facts with a stored run (AMIG, 20 steps) per model × relation × language; the number is the count of indexed facts.</p>
      {coverage.length > 0 && <Chart name="coverage" options={options} label="Indexing coverage by model, relation and language" />}
      <DataTable
        caption="Coverage"
        file="indexing-coverage"
        rows={coverage.filter((c) => c.indexed > 0)}
        empty="Nothing is indexed yet."
        columns={[
          { header: "model", value: (c) => c.model },
          { header: "relation", value: (c) => c.relation, render: (c) => <a href={routes.relation(c.relation, c.model)}>{c.relation}</a> },
          { header: "language", value: (c) => c.language },
          { header: "facts", value: (c) => c.facts, numeric: true },
          { header: "indexed", value: (c) => c.indexed, numeric: true },
          { header: "share", value: (c) => c.share, numeric: true },
          { header: "knowledge neurons", value: (c) => c.knowledgeNeurons, numeric: true },
        ]}
      />
    </>
  );
}
