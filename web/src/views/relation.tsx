// Relation: its facts, language-independent neurons for a chosen language set, localization and
// fact-checking results. Two requests: the relation with its facts, then one model's results.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { ModelPicker, setQueryParam } from "../components/pickers.tsx";
import { Resolved } from "../components/status.tsx";
import { DataTable } from "../components/table.tsx";
import { routes } from "../router.ts";
import { NeuronLink } from "./fact.tsx";

interface RelationBase {
  relation: { id: string; label: string; factCount: number; templates: { language: string; text: string }[] } | null;
  models: { name: string }[];
  facts: { edges: { node: { id: string; labels: { language: string; subject: string; object: string }[] } }[] };
}
interface Metrics {
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
}
interface RelationModel {
  languageIndependentNeurons: { layer: number; index: number; facts: number }[];
  localization: { method: string; language: string; facts: number; suppressRelated: number; suppressUnrelated: number; enhanceRelated: number; enhanceUnrelated: number }[];
  [fc: `fc_${number}`]: { language: string; relations: { relation: string; neurons: number; withDkn: Metrics; baseline: Metrics }[] } | null;
}

const RELATION_BASE = `query RelationBase($id: ID!) {
  relation(id: $id) { id label factCount templates { language text } }
  models { name }
  facts(relation: $id, first: 100) { edges { node { id labels { language subject object } } } }
}`;

const METRICS = "precision recall f1 accuracy";
function relationModelQuery(languages: string[]): string {
  const fc = languages
    .map((l, i) => `fc_${i}: factCheckingEvaluation(model: $model, language: "${l}") { language relations { relation neurons withDkn { ${METRICS} } baseline { ${METRICS} } } }`)
    .join("\n  ");
  return `query RelationModel($model: String!, $relation: ID!, $languages: [String!]!) {
  languageIndependentNeurons(model: $model, relation: $relation, languages: $languages) { layer index facts }
  localization(model: $model, relation: $relation) { method language facts suppressRelated suppressUnrelated enhanceRelated enhanceUnrelated }
  ${fc}
}`;
}

export function RelationView({ id, model, languages }: { id: string; model: string | null; languages: string[] | null }) {
  const state = useQuery<RelationBase>(RELATION_BASE, { id });
  return (
    <section data-view="relation">
      <Resolved state={state} what="the relation">
        {(d) => {
          const r = d.relation!;
          const all = [...new Set(r.templates.map((t) => t.language))].sort();
          const chosen = (languages ?? all).filter((l) => all.includes(l));
          const m = d.models.find((x) => x.name === model) ?? d.models[0];
          const facts = d.facts.edges.map((e) => {
            const en = e.node.labels.find((l) => l.language === "en") ?? e.node.labels[0];
            return { id: e.node.id, subject: en?.subject ?? "", object: en?.object ?? "", languages: e.node.labels.map((l) => l.language).join(" ") };
          });
          return (
            <>
              <h1>
                {r.id}: {r.label}
              </h1>
              <p class="sub">{r.factCount} facts</p>
              <div class="controls">
                {m && <ModelPicker models={d.models} value={m.name} />}
                <fieldset>
                  <legend>languages</legend>
                  {all.map((l) => (
                    <label style="flex-direction:row;display:inline-flex;margin-right:8px">
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
              {m && chosen.length > 0 && <RelationModelPart relation={r.id} model={m.name} languages={chosen} />}
              <DataTable
                caption={`Facts (${facts.length} of ${r.factCount})`}
                file={`relation-${r.id}-facts`}
                rows={facts}
                columns={[
                  { header: "subject", value: (f) => f.subject, render: (f) => <a href={routes.fact(f.id, m?.name)}>{f.subject}</a> },
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
  const query = useMemo(() => relationModelQuery(languages), [languages.join(",")]);
  const state = useQuery<RelationModel>(query, { model, relation, languages });
  return (
    <Resolved state={state} what={`${model}'s results`}>
      {(d) => {
        const fc = languages.flatMap((_, i) => {
          const e = d[`fc_${i}`];
          return (e?.relations ?? []).filter((x) => x.relation === relation).map((x) => ({ language: e!.language, ...x }));
        });
        return (
          <>
            <h2>Language-independent knowledge neurons ({languages.join(", ")})</h2>
            <LiknChart neurons={d.languageIndependentNeurons} />
            <DataTable
              caption="Language-independent neurons"
              file={`relation-${relation}-${model}-likn`}
              rows={d.languageIndependentNeurons}
              empty="No neuron is a knowledge neuron of the same fact in all of these languages (or nothing is indexed yet)."
              columns={[
                { header: "neuron", value: (n) => `L${n.layer}:${n.index}`, render: (n) => <NeuronLink model={model} n={n} /> },
                { header: "layer", value: (n) => n.layer, numeric: true },
                { header: "unit", value: (n) => n.index, numeric: true },
                { header: "facts", value: (n) => n.facts, numeric: true },
              ]}
            />
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
              caption="Fact-checking (stored evaluation, this relation)"
              file={`relation-${relation}-${model}-fact-checking`}
              rows={fc}
              empty="No fact-checking evaluation is stored (kn evaluate fact-checking)."
              columns={[
                { header: "language", value: (x) => x.language },
                { header: "DKN neurons", value: (x) => x.neurons, numeric: true },
                { header: "F1 (DKN)", value: (x) => x.withDkn.f1, numeric: true },
                { header: "accuracy (DKN)", value: (x) => x.withDkn.accuracy, numeric: true },
                { header: "F1 (baseline)", value: (x) => x.baseline.f1, numeric: true },
                { header: "accuracy (baseline)", value: (x) => x.baseline.accuracy, numeric: true },
              ]}
            />
          </>
        );
      }}
    </Resolved>
  );
}

function LiknChart({ neurons }: { neurons: { layer: number; index: number; facts: number }[] }) {
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 760,
      height: 240,
      x: { label: "neuron", type: "band", tickRotate: -45 },
      y: { label: "facts sharing it", grid: true },
      marks: [Plot.barY(neurons.slice(0, 40), { x: (n) => `L${n.layer}:${n.index}`, y: "facts", fill: "#d7301f", sort: { x: "-y" }, tip: true }), Plot.ruleY([0])],
    }),
    [neurons],
  );
  return neurons.length ? <Chart name="likn" options={options} label="Language-independent neurons by number of facts" /> : null;
}
