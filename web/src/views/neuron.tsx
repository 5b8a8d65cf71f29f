// Neuron: the facts whose knowledge neurons include it (ranked by score), its relation histogram
// and the edits that involve it.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { Resolved } from "../components/status.tsx";
import { DataTable } from "../components/table.tsx";
import { routes } from "../router.ts";

interface NeuronData {
  neuron: {
    facts: {
      totalCount: number;
      edges: { languages: string[]; score: number; node: { id: string; relation: { id: string }; labels: { subject: string; object: string }[] } }[];
    };
  };
  edits: { edges: { node: { id: string; kind: string; status: string; appliedAt: string; fact: { id: string } | null; neurons: { layer: number; index: number }[] } }[] };
}

const NEURON = `query Neuron($model: String!, $layer: Int!, $unit: Int!) {
  neuron(model: $model, layer: $layer, index: $unit) {
    facts(first: 50) { totalCount edges { languages score node { id relation { id } labels(languages: ["en"]) { subject object } } } }
  }
  edits(model: $model, first: 30) { edges { node { id kind status appliedAt fact { id } neurons { layer index } } } }
}`;

export function NeuronView({ model, layer, unit }: { model: string; layer: number; unit: number }) {
  const state = useQuery<NeuronData>(NEURON, { model, layer, unit });
  return (
    <section data-view="neuron">
      <h1>
        Neuron L{layer}:{unit} of {model}
      </h1>
      <Resolved state={state} what="the neuron">
        {(d) => {
          const facts = d.neuron.facts.edges
            .map((e) => ({ id: e.node.id, relation: e.node.relation.id, subject: e.node.labels[0]?.subject ?? "", object: e.node.labels[0]?.object ?? "", languages: e.languages, score: e.score }))
            .sort((a, b) => b.score - a.score);
          const edits = d.edits.edges.map((e) => e.node).filter((e) => e.neurons.some((n) => n.layer === layer && n.index === unit));
          return (
            <>
              <p class="sub">
                knowledge neuron of {d.neuron.facts.totalCount} facts · <a href={routes.neuron(model, layer, Math.max(0, unit - 1))}>previous unit</a> ·{" "}
                <a href={routes.neuron(model, layer, unit + 1)}>next unit</a>
              </p>
              <RelationHistogram facts={facts} />
              <DataTable
                caption="Facts (ranked by score)"
                file={`neuron-${model}-L${layer}-${unit}-facts`}
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
                caption="Edits involving this neuron"
                file={`neuron-${model}-L${layer}-${unit}-edits`}
                rows={edits}
                empty="No edit involves this neuron."
                columns={[
                  { header: "edit", value: (e) => e.id },
                  { header: "kind", value: (e) => e.kind },
                  { header: "status", value: (e) => e.status },
                  { header: "fact", value: (e) => e.fact?.id ?? "", render: (e) => (e.fact ? <a href={routes.fact(e.fact.id, model)}>{e.fact.id}</a> : "") },
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

function RelationHistogram({ facts }: { facts: { relation: string }[] }) {
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 520,
      height: 200,
      y: { label: "facts", grid: true },
      x: { label: "relation" },
      marks: [Plot.barY(facts, Plot.groupX({ y: "count" }, { x: "relation", fill: "#1f5fbf", tip: true })), Plot.ruleY([0])],
    }),
    [facts],
  );
  return facts.length ? <Chart name="relations" options={options} label="Facts of this neuron per relation" /> : null;
}
