// Fact: labels, per-language runs, the full layer × unit attribution heatmap, knowledge neurons
// shared across languages, degenerate sets and the edit panel. Two requests: the fact with the
// models, then one model's runs of the fact in every language with the grid of the chosen one.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { LanguageTabs, ModelPicker } from "../components/pickers.tsx";
import { NotFound, Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { FactModelQuery } from "../gql/graphql.ts";
import { routes } from "../router.ts";
import { EditPanel } from "./edit-panel.tsx";

const FACT_BASE = graphql(`
  query FactBase($id: ID!) {
    fact(id: $id) { id subjectUri objectUri relation { id label } labels { language subject object } }
    models { name }
  }
`);

const FACT_MODEL = graphql(`
  query FactModel($model: String!, $fact: ID!, $language: String!) {
    fact(id: $fact) {
      runs(model: $model) {
        language prompt goldProbability prediction predictionProbability tau tauRule
        knowledgeNeurons { layer unit score }
        degenerateSets { baseProbability jointProbability neurons { layer unit aloneProbability } }
      }
    }
    attributionGrid(model: $model, fact: $fact, language: $language) { layers width scores maxScore source run { language prompt prediction goldProbability knowledgeNeurons { layer unit score } } }
  }
`);

type Run = NonNullable<FactModelQuery["fact"]>["runs"][number];
type Grid = NonNullable<FactModelQuery["attributionGrid"]>;
export interface NeuronKey {
  layer: number;
  unit: number;
}
const key = (n: NeuronKey) => `${n.layer}:${n.unit}`;

export function FactView({ id, model, language }: { id: string; model: string | null; language: string | null }) {
  const state = useQuery(FACT_BASE, { id });
  return (
    <section data-view="fact">
      <Resolved state={state} what="the fact">
        {(d) => {
          const fact = d.fact;
          if (!fact) return <NotFound what={`No fact has the id ${id}.`} />;
          if (model && !d.models.some((m) => m.name === model)) return <NotFound what={`No model is called ${model}.`} />;
          const languages = fact.labels.map((l) => l.language);
          const m = model ?? d.models[0]?.name;
          const en = fact.labels.find((l) => l.language === "en") ?? fact.labels[0];
          return (
            <>
              <h1>
                {en.subject} — {fact.relation.label} — {en.object}
              </h1>
              <p class="sub">
                fact <code>{fact.id}</code> of <a href={routes.relation(fact.relation.id, m)}>{fact.relation.id}</a> ({fact.subjectUri} → {fact.objectUri})
              </p>
              <DataTable
                caption="Labels"
                file={`fact-${fact.id}-labels`}
                rows={fact.labels}
                columns={[
                  { header: "language", value: (l) => l.language },
                  { header: "subject", value: (l) => l.subject },
                  { header: "object", value: (l) => l.object },
                ]}
              />
              {m ? (
                <>
                  <div class="controls">
                    <ModelPicker models={d.models} value={m} />
                  </div>
                  <FactModel factId={fact.id} model={m} languages={languages} language={language} />
                </>
              ) : (
                <p class="empty">No model is registered.</p>
              )}
            </>
          );
        }}
      </Resolved>
    </section>
  );
}

function FactModel({ factId, model, languages, language }: { factId: string; model: string; languages: string[]; language: string | null }) {
  const lang = language && languages.includes(language) ? language : languages.includes("en") ? "en" : languages[0];
  const state = useQuery(FACT_MODEL, { model, fact: factId, language: lang });
  return (
    <Resolved state={state} what="attributions">
      {(d) => {
        const runs = d.fact?.runs ?? [];
        const degenerate = runs.flatMap((r) => r.degenerateSets.map((s, j) => ({ language: r.language, set: j + 1, ...s })));
        if (runs.length === 0)
          return (
            <p class="empty" data-empty="runs">
              {model} has no indexed run of this fact yet (index it with <code>kn index</code> or the indexFacts mutation).
            </p>
          );
        return (
          <>
            <DataTable
              caption={`Runs of ${model}`}
              file={`fact-${factId}-${model}-runs`}
              rows={runs}
              columns={[
                { header: "language", value: (r) => r.language, render: (r) => <a href={routes.fact(factId, model, r.language)}>{r.language}</a> },
                { header: "prompt", value: (r) => r.prompt },
                { header: "answer", value: (r) => r.prediction },
                { header: "answer probability", value: (r) => r.predictionProbability, numeric: true },
                { header: "gold probability", value: (r) => r.goldProbability, numeric: true },
                { header: "τ", value: (r) => r.tau, numeric: true },
                { header: "τ rule", value: (r) => r.tauRule },
                { header: "knowledge neurons", value: (r) => r.knowledgeNeurons.length, numeric: true },
              ]}
            />
            <h2>Attribution ({lang})</h2>
            <LanguageTabs languages={runs.map((r) => r.language)} value={lang} href={(l) => routes.fact(factId, model, l)} label="Language of the heatmap" />
            {d.attributionGrid ? <Heatmap grid={d.attributionGrid} model={model} /> : <p class="empty">No run in {lang}.</p>}
            <Sharing runs={runs} model={model} factId={factId} />
            <DataTable
              caption="Degenerate knowledge-neuron sets"
              file={`fact-${factId}-${model}-degenerate`}
              rows={degenerate}
              empty="No degenerate set was found for this fact."
              columns={[
                { header: "language", value: (s) => s.language },
                { header: "set", value: (s) => s.set, numeric: true },
                { header: "neurons", value: (s) => s.neurons.map(neuronName).join(" "), render: (s) => s.neurons.map((n) => <NeuronLink model={model} n={n} />) },
                { header: "p(gold), one member suppressed", value: (s) => s.neurons.map((n) => fmt(n.aloneProbability)).join(" / ") },
                { header: "p(gold), none suppressed", value: (s) => s.baseProbability, numeric: true },
                { header: "p(gold), all suppressed", value: (s) => s.jointProbability, numeric: true },
              ]}
            />
            <EditPanel model={model} factId={factId} runs={runs} language={lang} />
          </>
        );
      }}
    </Resolved>
  );
}

export const neuronName = (n: NeuronKey) => `L${n.layer}:${n.unit}`;

export function NeuronLink({ model, n }: { model: string; n: NeuronKey }) {
  return (
    <>
      <a href={routes.neuron(model, n.layer, n.unit)}>{neuronName(n)}</a>{" "}
    </>
  );
}

const RECT_LIMIT = 20_000;

/** Every layer × unit score (row-major from the API); knowledge neurons circled. */
function Heatmap({ grid, model }: { grid: Grid; model: string }) {
  const options = useMemo<Plot.PlotOptions>(() => {
    const kn = grid.run.knowledgeNeurons;
    // symmetric around 0 up to the run's maximum (what τ is relative to); stronger negatives are clamped
    const bound = grid.maxScore > 0 ? grid.maxScore : grid.scores.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
    // one SVG rect per unit up to RECT_LIMIT cells; a full-size model's grid is drawn as a raster image
    const scores = grid.scores.length <= RECT_LIMIT
      ? Plot.rect(
          grid.scores.map((score, i) => ({ layer: Math.floor(i / grid.width), unit: i % grid.width, score })),
          { x1: "unit", x2: (d) => d.unit + 1, y1: "layer", y2: (d) => d.layer + 1, fill: "score", inset: 0 },
        )
      : Plot.raster(grid.scores, { width: grid.width, height: grid.layers, x1: 0, x2: grid.width, y1: 0, y2: grid.layers, imageRendering: "pixelated" });
    return {
      width: Math.max(720, Math.min(1300, grid.width * 3)),
      height: 80 + grid.layers * Math.max(12, Math.min(40, 480 / grid.layers)),
      marginLeft: 50,
      x: { label: "unit", domain: [0, grid.width] },
      y: { label: "layer", domain: [0, grid.layers], reverse: true, ticks: grid.layers, tickFormat: (d: number) => (d < grid.layers ? String(d) : "") },
      color: { type: "linear", scheme: "BuRd", domain: [-bound, bound], clamp: true, legend: true, label: "attribution score (clamped at ± the run's maximum)" },
      marks: [
        scores,
        Plot.dot(kn, { x: (d) => d.unit + 0.5, y: (d) => d.layer + 0.5, r: 5, stroke: "#111", strokeWidth: 1.5, tip: true, title: (d) => `${neuronName(d)} score ${fmt(d.score)} (knowledge neuron)` }),
      ],
    };
  }, [grid]);
  const r = grid.run;
  return (
    <div class="card" data-grid-source={grid.source}>
      <p class="sub">
        prompt <code>{r.prompt}</code> · answer <strong>{r.prediction}</strong> · gold probability {fmt(r.goldProbability)} · {grid.layers} layers × {grid.width} units (
        {grid.source.toLowerCase()}) · circled: {r.knowledgeNeurons.length} knowledge neurons
      </p>
      <Chart name="heatmap" options={options} label={`Attribution heatmap of ${model}, ${grid.layers} layers by ${grid.width} units`} />
      <DataTable
        caption="Knowledge neurons"
        file="knowledge-neurons"
        rows={r.knowledgeNeurons}
        columns={[
          { header: "neuron", value: neuronName, render: (n) => <NeuronLink model={model} n={n} /> },
          { header: "layer", value: (n) => n.layer, numeric: true },
          { header: "unit", value: (n) => n.unit, numeric: true },
          { header: "score", value: (n) => n.score, numeric: true },
        ]}
      />
    </div>
  );
}

/** Which knowledge neurons the languages share: a language × language count matrix and the neurons in several languages. */
function Sharing({ runs, model, factId }: { runs: Run[]; model: string; factId: string }) {
  const langs = runs.map((r) => r.language);
  const sets = new Map(runs.map((r) => [r.language, new Set(r.knowledgeNeurons.map(key))]));
  const matrix = langs.flatMap((a) => langs.map((b) => ({ a, b, shared: [...sets.get(a)!].filter((k) => sets.get(b)!.has(k)).length })));
  const byNeuron = new Map<string, { layer: number; unit: number; languages: string[] }>();
  for (const r of runs)
    for (const n of r.knowledgeNeurons) {
      const entry = byNeuron.get(key(n)) ?? { layer: n.layer, unit: n.unit, languages: [] };
      entry.languages.push(r.language);
      byNeuron.set(key(n), entry);
    }
  const shared = [...byNeuron.values()].filter((n) => n.languages.length > 1).sort((x, y) => y.languages.length - x.languages.length || x.layer - y.layer || x.unit - y.unit);
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 120 + langs.length * 56,
      height: 80 + langs.length * 40,
      marginLeft: 50,
      padding: 0.05,
      x: { domain: langs, label: null, axis: "top" },
      y: { domain: langs, label: null },
      color: { scheme: "Blues", legend: true, label: "shared knowledge neurons" },
      marks: [
        Plot.cell(matrix, { x: "b", y: "a", fill: "shared" }),
        Plot.text(matrix, { x: "b", y: "a", text: "shared", fill: (d) => (d.shared > 0.6 * Math.max(...matrix.map((m) => m.shared)) ? "white" : "black") }),
      ],
    }),
    [JSON.stringify(matrix)],
  );
  return (
    <>
      <h2>Knowledge neurons shared across languages</h2>
      <p class="sub">
        Cell: knowledge neurons the two languages share (diagonal: per language). Marked LIKN: knowledge neurons in every one of the {langs.length} indexed languages
        (language-independent).
      </p>
      <div class="grid2">
        <Chart name="sharing" options={options} label="Language by language matrix of shared knowledge neurons" />
        <DataTable
          caption="Neurons in several languages"
          file={`fact-${factId}-${model}-shared-neurons`}
          rows={shared}
          empty="No knowledge neuron is shared by two languages."
          columns={[
            { header: "neuron", value: neuronName, render: (n) => <NeuronLink model={model} n={n} /> },
            { header: "languages", value: (n) => n.languages.join(" ") },
            {
              header: "language-independent",
              value: (n) => n.languages.length === langs.length,
              render: (n) => (n.languages.length === langs.length ? <span class="badge likn">LIKN</span> : ""),
            },
          ]}
        />
      </div>
    </>
  );
}
