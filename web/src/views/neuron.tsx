// Neuron: its facts ranked by score, its relation histogram, the tokens its FFN value vector
// promotes, and the degenerate sets and edits that involve it. One request.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { NotFound, Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { NeuronQuery } from "../gql/graphql.ts";
import { routes } from "../router.ts";
import { NeuronLink, neuronName } from "./fact.tsx";

const NEURON = graphql(`
  query Neuron($model: String!, $layer: Int!, $unit: Int!) {
    neuron(model: $model, layer: $layer, unit: $unit) {
      promotedTokens(top: 15) { id token logit }
      facts(first: 50) { totalCount edges { languages score node { id relation { id } labels(languages: ["en"]) { subject object } } } }
      relations { relation { id label } facts }
      degenerateSets(first: 20) { fact { id labels(languages: ["en"]) { subject } } language set { baseProbability jointProbability neurons { layer unit aloneProbability } } }
      edits(first: 20) { id kind target status appliedAt fact { id } neurons { layer unit } }
    }
  }
`);

export function NeuronView({ model, layer, unit }: { model: string; layer: number; unit: number }) {
  const state = useQuery(NEURON, { model, layer, unit });
  const name = `neuron-${model}-L${layer}-${unit}`;
  return (
    <section data-view="neuron">
      <h1>
        Neuron L{layer}:{unit} of {model}
      </h1>
      <Resolved state={state} what="the neuron">
        {({ neuron }) => {
          if (!neuron) return <NotFound what={`No model is called ${model}.`} />;
          const facts = neuron.facts.edges.map((e) => ({
            id: e.node.id,
            relation: e.node.relation.id,
            subject: e.node.labels[0]?.subject ?? "",
            object: e.node.labels[0]?.object ?? "",
            languages: e.languages,
            score: e.score,
          }));
          return (
            <>
              <p class="sub">
                knowledge neuron of {neuron.facts.totalCount} facts · <a href={routes.neuron(model, layer, Math.max(0, unit - 1))}>previous unit</a> ·{" "}
                <a href={routes.neuron(model, layer, unit + 1)}>next unit</a>
              </p>
              <div class="grid2">
                <RelationHistogram relations={neuron.relations} />
                <DataTable
                  caption="Tokens its value vector promotes"
                  file={`${name}-promoted-tokens`}
                  rows={neuron.promotedTokens}
                  columns={[
                    { header: "token", value: (t) => t.token, render: (t) => <code>{t.token}</code> },
                    { header: "id", value: (t) => t.id, numeric: true },
                    { header: "logit", value: (t) => t.logit, numeric: true },
                  ]}
                />
              </div>
              <DataTable
                caption="Facts (ranked by score)"
                file={`${name}-facts`}
                rows={facts}
                empty="This neuron is no knowledge neuron of any indexed fact."
                columns={[
                  { header: "fact", value: (f) => f.id, render: (f) => <a href={routes.fact(f.id, model, f.languages[0])}>{f.subject || f.id}</a> },
                  { header: "object", value: (f) => f.object },
                  { header: "relation", value: (f) => f.relation, render: (f) => <a href={routes.relation(f.relation, model)}>{f.relation}</a> },
                  { header: "languages", value: (f) => f.languages.join(" ") },
                  { header: "score", value: (f) => f.score, numeric: true },
                ]}
              />
              <DataTable
                caption="Degenerate sets with this neuron"
                file={`${name}-degenerate`}
                rows={neuron.degenerateSets}
                empty="No degenerate set contains this neuron."
                columns={[
                  { header: "fact", value: (s) => s.fact.id, render: (s) => <a href={routes.fact(s.fact.id, model, s.language)}>{s.fact.labels[0]?.subject ?? s.fact.id}</a> },
                  { header: "language", value: (s) => s.language },
                  { header: "neurons", value: (s) => s.set.neurons.map(neuronName).join(" "), render: (s) => s.set.neurons.map((n) => <NeuronLink model={model} n={n} />) },
                  { header: "p(gold), one suppressed", value: (s) => s.set.neurons.map((n) => fmt(n.aloneProbability)).join(" / ") },
                  { header: "p(gold), none", value: (s) => s.set.baseProbability, numeric: true },
                  { header: "p(gold), all suppressed", value: (s) => s.set.jointProbability, numeric: true },
                ]}
              />
              <DataTable
                caption="Edits involving this neuron"
                file={`${name}-edits`}
                rows={neuron.edits}
                empty="No edit involves this neuron."
                columns={[
                  { header: "edit", value: (e) => e.id },
                  { header: "kind", value: (e) => e.kind },
                  { header: "target", value: (e) => e.target },
                  { header: "status", value: (e) => e.status },
                  { header: "fact", value: (e) => e.fact?.id ?? "", render: (e) => (e.fact ? <a href={routes.fact(e.fact.id, model)}>{e.fact.id}</a> : "") },
                  { header: "neurons", value: (e) => e.neurons.length, numeric: true },
                  { header: "applied", value: (e) => e.appliedAt },
                ]}
              />
            </>
          );
        }}
      </Resolved>
    </section>
  );
}

function RelationHistogram({ relations }: { relations: NonNullable<NeuronQuery["neuron"]>["relations"] }) {
  const rows = relations.map((r) => ({ relation: r.relation.id, label: r.relation.label, facts: r.facts }));
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 480,
      height: 220,
      y: { label: "facts", grid: true },
      x: { label: "relation", type: "band" },
      marks: [Plot.barY(rows, { x: "relation", y: "facts", fill: "#1f5fbf", tip: true, sort: { x: "-y" } }), Plot.ruleY([0])],
    }),
    [relations],
  );
  return (
    <div>
      <h3>Facts per relation</h3>
      {rows.length ? <Chart name="relations" options={options} label="Facts of this neuron per relation" /> : <p class="empty">No fact.</p>}
    </div>
  );
}
