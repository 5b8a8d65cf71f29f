// Relation: language-independent neurons for a chosen language set, the language × language
// overlap matrix, the per-layer distribution of knowledge neurons per language, localization and
// fact-checking results, and its facts. Two requests: the relation with its facts and coverage
// (which languages are indexed), then one model's results for the chosen languages.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { ModelPicker, setQueryParam } from "../components/pickers.tsx";
import { NotFound, Resolved } from "../components/status.tsx";
import { DataTable } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { RelationModelQuery } from "../gql/graphql.ts";
import { routes } from "../router.ts";
import { NeuronLink, neuronName } from "./fact.tsx";

const RELATION_BASE = graphql(`
  query RelationBase($id: ID!) {
    relation(id: $id) { id label factCount templates { language text } }
    models { name }
    facts(relation: $id, first: 100) { edges { node { id labels { language subject object } } } }
    indexingCoverage { model relation language indexed }
  }
`);

const RELATION_MODEL = graphql(`
  query RelationModel($model: String!, $relation: ID!, $languages: [String!]!) {
    languageIndependentNeurons(model: $model, relation: $relation, languages: $languages) { layer unit facts }
    languageOverlap(model: $model, relation: $relation, languages: $languages) { languages cells { row column facts meanShared meanJaccard } }
    layerDistribution(model: $model, relation: $relation, languages: $languages) { language runs neurons layers { layer neurons share perRun } }
    localization(model: $model, relation: $relation) { method language facts suppressRelated suppressUnrelated enhanceRelated enhanceUnrelated }
    factCheckingEvaluations(model: $model) { language createdAt relations { relation neurons withDkn { precision recall f1 accuracy } baseline { precision recall f1 accuracy } acceptAll { f1 accuracy } } }
  }
`);

export function RelationView({ id, model, languages }: { id: string; model: string | null; languages: string[] | null }) {
  const state = useQuery(RELATION_BASE, { id });
  return (
    <section data-view="relation">
      <Resolved state={state} what="the relation">
        {(d) => {
          const r = d.relation;
          if (!r) return <NotFound what={`No relation ${id} is imported.`} />;
          if (model && !d.models.some((m) => m.name === model)) return <NotFound what={`No model is called ${model}.`} />;
          const m = model ?? d.models[0]?.name;
          const all = [...new Set(r.templates.map((t) => t.language))].sort();
          const indexed = (d.indexingCoverage ?? []).filter((c) => c.model === m && c.relation === r.id && c.indexed > 0).map((c) => c.language);
          const chosen = (languages ?? (indexed.length ? indexed : all)).filter((l) => all.includes(l)).sort();
          const facts = d.facts.edges.map((e) => {
            const en = e.node.labels.find((l) => l.language === "en") ?? e.node.labels[0];
            return { id: e.node.id, subject: en?.subject ?? "", object: en?.object ?? "", languages: e.node.labels.map((l) => l.language).join(" ") };
          });
          return (
            <>
              <h1>
                {r.id}: {r.label}
              </h1>
              <p class="sub">
                {r.factCount} facts · indexed in {indexed.length ? indexed.join(", ") : "no language"} on {m}
              </p>
              <div class="controls">
                {m && <ModelPicker models={d.models} value={m} />}
                <fieldset>
                  <legend>languages</legend>
                  {all.map((l) => (
                    <label class="inline">
                      <input
                        type="checkbox"
                        name="language"
                        value={l}
                        checked={chosen.includes(l)}
                        onChange={(e) => {
                          const next = e.currentTarget.checked ? [...chosen, l] : chosen.filter((x) => x !== l);
                          setQueryParam("langs", next.sort().join(","));
                        }}
                      />
                      {l}
                    </label>
                  ))}
                </fieldset>
              </div>
              {m && chosen.length > 0 ? <RelationModelPart relation={r.id} model={m} languages={chosen} /> : <p class="empty">Choose at least one language.</p>}
              <DataTable
                caption={`Facts (${facts.length} of ${r.factCount})`}
                file={`relation-${r.id}-facts`}
                rows={facts}
                columns={[
                  { header: "subject", value: (f) => f.subject, render: (f) => <a href={routes.fact(f.id, m)}>{f.subject}</a> },
                  { header: "object", value: (f) => f.object },
                  { header: "languages", value: (f) => f.languages },
                  { header: "fact id", value: (f) => f.id },
                ]}
              />
              <DataTable
                caption="Templates"
                file={`relation-${r.id}-templates`}
                rows={r.templates}
                columns={[
                  { header: "language", value: (t) => t.language },
                  { header: "template", value: (t) => t.text },
                ]}
              />
            </>
          );
        }}
      </Resolved>
    </section>
  );
}

function RelationModelPart({ relation, model, languages }: { relation: string; model: string; languages: string[] }) {
  const state = useQuery(RELATION_MODEL, { model, relation, languages });
  return (
    <Resolved state={state} what={`${model}'s results`}>
      {(d) => {
        const fc = (d.factCheckingEvaluations ?? [])
          .filter((e) => languages.includes(e.language))
          .flatMap((e) => e.relations.filter((x) => x.relation === relation).map((x) => ({ language: e.language, createdAt: e.createdAt, ...x })));
        return (
          <>
            <h2>Language-independent knowledge neurons ({languages.join(", ")})</h2>
            <p class="sub">Neurons that are knowledge neurons of the same fact in every chosen language, by the number of facts that share them.</p>
            <LiknChart neurons={d.languageIndependentNeurons} />
            <DataTable
              caption="Language-independent neurons"
              file={`relation-${relation}-${model}-likn`}
              rows={d.languageIndependentNeurons}
              empty="No neuron is a knowledge neuron of the same fact in all of these languages."
              columns={[
                { header: "neuron", value: neuronName, render: (n) => <NeuronLink model={model} n={n} /> },
                { header: "layer", value: (n) => n.layer, numeric: true },
                { header: "unit", value: (n) => n.unit, numeric: true },
                { header: "facts", value: (n) => n.facts, numeric: true },
              ]}
            />
            <div class="grid2">
              {d.languageOverlap && <Overlap overlap={d.languageOverlap} relation={relation} model={model} />}
              {d.layerDistribution && <LayerDistribution distribution={d.layerDistribution} relation={relation} model={model} />}
            </div>
            <DataTable
              caption="Localization (mean relative change of the gold probability)"
              file={`relation-${relation}-${model}-localization`}
              rows={d.localization}
              empty="No localization evaluation is stored (kn evaluate localization --by-relation)."
              columns={[
                { header: "method", value: (x) => x.method },
                { header: "language", value: (x) => x.language },
                { header: "facts", value: (x) => x.facts, numeric: true },
                { header: "suppress related", value: (x) => x.suppressRelated, numeric: true },
                { header: "suppress unrelated", value: (x) => x.suppressUnrelated, numeric: true },
                { header: "enhance related", value: (x) => x.enhanceRelated, numeric: true },
                { header: "enhance unrelated", value: (x) => x.enhanceUnrelated, numeric: true },
              ]}
            />
            <DataTable
              caption="Fact-checking (stored evaluations, this relation)"
              file={`relation-${relation}-${model}-fact-checking`}
              rows={fc}
              empty="No fact-checking evaluation is stored (kn evaluate fact-checking)."
              columns={[
                { header: "language", value: (x) => x.language },
                { header: "evaluated", value: (x) => x.createdAt },
                { header: "DKN neurons", value: (x) => x.neurons, numeric: true },
                { header: "F1 (DKN)", value: (x) => x.withDkn.f1, numeric: true },
                { header: "accuracy (DKN)", value: (x) => x.withDkn.accuracy, numeric: true },
                { header: "F1 (model's answer)", value: (x) => x.baseline.f1, numeric: true },
                { header: "accuracy (model's answer)", value: (x) => x.baseline.accuracy, numeric: true },
                { header: "F1 (accept all)", value: (x) => x.acceptAll.f1, numeric: true },
                { header: "accuracy (accept all)", value: (x) => x.acceptAll.accuracy, numeric: true },
              ]}
            />
          </>
        );
      }}
    </Resolved>
  );
}

function LiknChart({ neurons }: { neurons: RelationModelQuery["languageIndependentNeurons"] }) {
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 760,
      height: 240,
      marginBottom: 50,
      x: { label: null, type: "band", tickRotate: -45 },
      y: { label: "facts sharing it", grid: true },
      marks: [Plot.barY(neurons.slice(0, 40), { x: neuronName, y: "facts", fill: "#d7301f", sort: { x: "-y" }, tip: true }), Plot.ruleY([0])],
    }),
    [neurons],
  );
  return neurons.length ? <Chart name="likn" options={options} label="Language-independent neurons by number of facts" /> : null;
}

type Overlap = NonNullable<RelationModelQuery["languageOverlap"]>;

function Overlap({ overlap, relation, model }: { overlap: Overlap; relation: string; model: string }) {
  const dark = 0.6 * Math.max(0, ...overlap.cells.map((c) => c.meanShared));
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 140 + overlap.languages.length * 60,
      height: 90 + overlap.languages.length * 44,
      marginLeft: 50,
      padding: 0.05,
      x: { domain: overlap.languages, label: null, axis: "top" },
      y: { domain: overlap.languages, label: null },
      color: { scheme: "Purples", legend: true, label: "mean shared knowledge neurons per fact" },
      marks: [
        Plot.cell(overlap.cells, { x: "column", y: "row", fill: "meanShared", tip: true }),
        Plot.text(overlap.cells, { x: "column", y: "row", text: (c: Overlap["cells"][number]) => c.meanShared.toFixed(2), fill: (c: Overlap["cells"][number]) => (c.meanShared > dark ? "white" : "black") }),
      ],
    }),
    [overlap],
  );
  return (
    <div>
      <h2>Language × language overlap</h2>
      <Chart name="overlap" options={options} label="Mean number of knowledge neurons shared by two languages per fact" />
      <DataTable
        caption="Overlap"
        file={`relation-${relation}-${model}-overlap`}
        rows={overlap.cells}
        columns={[
          { header: "row", value: (c) => c.row },
          { header: "column", value: (c) => c.column },
          { header: "facts", value: (c) => c.facts, numeric: true },
          { header: "mean shared", value: (c) => c.meanShared, numeric: true },
          { header: "mean Jaccard", value: (c) => c.meanJaccard, numeric: true },
        ]}
      />
    </div>
  );
}

type Distribution = NonNullable<RelationModelQuery["layerDistribution"]>;

function LayerDistribution({ distribution, relation, model }: { distribution: Distribution; relation: string; model: string }) {
  const rows = distribution.flatMap((d) => d.layers.map((l) => ({ language: d.language, ...l })));
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 520,
      height: 280,
      x: { label: "layer", type: "band" },
      y: { label: "share of knowledge neurons", grid: true, percent: true },
      fx: { label: null },
      color: { legend: true },
      marks: [Plot.barY(rows, { x: "language", y: "share", fx: "layer", fill: "language", tip: true }), Plot.ruleY([0])],
    }),
    [distribution],
  );
  return (
    <div>
      <h2>Knowledge neurons per layer</h2>
      <Chart name="layers" options={options} label="Share of knowledge neurons in each layer per language" />
      <DataTable
        caption="Layer distribution"
        file={`relation-${relation}-${model}-layers`}
        rows={rows}
        columns={[
          { header: "language", value: (r) => r.language },
          { header: "layer", value: (r) => r.layer, numeric: true },
          { header: "neurons", value: (r) => r.neurons, numeric: true },
          { header: "share", value: (r) => r.share, numeric: true },
          { header: "per run", value: (r) => r.perRun, numeric: true },
        ]}
      />
    </div>
  );
}
