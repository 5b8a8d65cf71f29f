// Fact: labels, per-language runs, the attribution heatmap, knowledge neurons shared across
// languages, degenerate sets and the edit panel. Two requests: the fact and the models, then
// everything of one model for all of the fact's languages.
import { useMemo } from "preact/hooks";
import { useQuery } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { LanguageTabs, ModelPicker } from "../components/pickers.tsx";
import { Resolved } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { EditPanel } from "./edit-panel.tsx";
import { routes } from "../router.ts";

interface ScoredNeuron {
  layer: number;
  index: number;
  score: number;
}
interface FactBase {
  fact: { id: string; subjectUri: string; objectUri: string; relation: { id: string; label: string }; labels: { language: string; subject: string; object: string }[] } | null;
  models: { name: string; layers: number; ffnWidth: number }[];
}
interface Run {
  language: string;
  prompt: string;
  goldProbability: number;
  prediction: string;
  tau: number;
  tauRule: string;
  neurons: ScoredNeuron[];
}
interface DegenerateSet {
  baseProbability: number;
  jointProbability: number;
  neurons: { layer: number; index: number; aloneProbability: number }[];
}
interface Attribution {
  prompt: string;
  goldProbability: number;
  prediction: string;
  maxScore: number;
  layers: number;
  width: number;
  topNeurons: ScoredNeuron[];
  knowledgeNeurons: ScoredNeuron[];
}
type FactDetail = { attribution: Attribution | null } & Record<string, Run | DegenerateSet[] | Attribution | null>;

const FACT_BASE = `query FactBase($id: ID!) {
  fact(id: $id) { id subjectUri objectUri relation { id label } labels { language subject object } }
  models { name layers ffnWidth }
}`;

/** One query for every language of the fact: aliases kn_<lang> and dg_<lang>. */
function factDetailQuery(languages: string[]): string {
  const perLanguage = languages
    .map(
      (l, i) => `kn_${i}: knowledgeNeurons(model: $model, fact: $fact, language: "${l}") { language prompt goldProbability prediction tau tauRule neurons { layer index score } }
  dg_${i}: degenerateSets(model: $model, fact: $fact, language: "${l}") { baseProbability jointProbability neurons { layer index aloneProbability } }`,
    )
    .join("\n  ");
  return `query FactDetail($model: String!, $fact: ID!, $language: String!) {
  attribution(model: $model, fact: $fact, language: $language) { prompt goldProbability prediction maxScore layers width topNeurons { layer index score } knowledgeNeurons { layer index score } }
  ${perLanguage}
}`;
}

const key = (n: { layer: number; index: number }) => `${n.layer}:${n.index}`;

export function FactView({ id, model, language }: { id: string; model: string | null; language: string | null }) {
  const state = useQuery<FactBase>(FACT_BASE, { id });
  return (
    <section data-view="fact">
      <Resolved state={state} what="the fact">
        {(d) => {
          const fact = d.fact!;
          const languages = fact.labels.map((l) => l.language);
          const m = d.models.find((x) => x.name === model) ?? d.models[0];
          const lang = language && languages.includes(language) ? language : languages.includes("en") ? "en" : languages[0];
          const en = fact.labels.find((l) => l.language === "en") ?? fact.labels[0];
          return (
            <>
              <h1>
                {en.subject} — {fact.relation.label} — {en.object}
              </h1>
              <p class="sub">
                fact <code>{fact.id}</code> of <a href={routes.relation(fact.relation.id, m?.name)}>{fact.relation.id}</a> ({fact.subjectUri} → {fact.objectUri})
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
                    <ModelPicker models={d.models} value={m.name} />
                  </div>
                  <FactModel factId={fact.id} model={m.name} languages={languages} language={lang} />
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

function FactModel({ factId, model, languages, language }: { factId: string; model: string; languages: string[]; language: string }) {
  const query = useMemo(() => factDetailQuery(languages), [languages.join(",")]);
  const state = useQuery<FactDetail>(query, { model, fact: factId, language });
  return (
    <Resolved state={state} what="attributions">
      {(d) => {
        const runs = languages.map((_, i) => d[`kn_${i}`] as Run | null).filter((r): r is Run => r !== null);
        const degenerate = languages.flatMap((l, i) => ((d[`dg_${i}`] as DegenerateSet[] | null) ?? []).map((s, j) => ({ language: l, set: j + 1, ...s })));
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
                { header: "gold probability", value: (r) => r.goldProbability, numeric: true },
                { header: "τ", value: (r) => r.tau, numeric: true },
                { header: "τ rule", value: (r) => r.tauRule },
                { header: "knowledge neurons", value: (r) => r.neurons.length, numeric: true },
              ]}
            />
            <h2>Attribution ({language})</h2>
            <LanguageTabs languages={runs.map((r) => r.language)} value={language} href={(l) => routes.fact(factId, model, l)} label="Language of the heatmap" />
            {d.attribution ? <Heatmap attribution={d.attribution} model={model} /> : <p class="empty">No run in {language}.</p>}
            <Sharing runs={runs} model={model} factId={factId} />
            <DataTable
              caption="Degenerate knowledge-neuron sets"
              file={`fact-${factId}-${model}-degenerate`}
              rows={degenerate}
              empty="No degenerate set was found for this fact."
              columns={[
                { header: "language", value: (s) => s.language },
                { header: "set", value: (s) => s.set, numeric: true },
                {
                  header: "neurons",
                  value: (s) => s.neurons.map((n) => `L${n.layer}:${n.index}`).join(" "),
                  render: (s) => s.neurons.map((n) => <NeuronLink model={model} n={n} />),
                },
                { header: "p(gold) alone suppressed", value: (s) => s.neurons.map((n) => fmt(n.aloneProbability)).join(" / ") },
                { header: "p(gold) none", value: (s) => s.baseProbability, numeric: true },
                { header: "p(gold) all suppressed", value: (s) => s.jointProbability, numeric: true },
              ]}
            />
            <EditPanel model={model} factId={factId} runs={runs} language={language} />
          </>
        );
      }}
    </Resolved>
  );
}

export function NeuronLink({ model, n }: { model: string; n: { layer: number; index: number } }) {
  return (
    <>
      <a href={routes.neuron(model, n.layer, n.index)}>
        L{n.layer}:{n.index}
      </a>{" "}
    </>
  );
}

/** Layer × unit grid; knowledge neurons circled. Units without a stored score are left blank. */
function Heatmap({ attribution: a, model }: { attribution: Attribution; model: string }) {
  const options = useMemo<Plot.PlotOptions>(() => {
    const kn = new Set(a.knowledgeNeurons.map(key));
    const cells = a.topNeurons.map((n) => ({ layer: n.layer, unit: n.index, score: n.score, kn: kn.has(key(n)) }));
    return {
      width: Math.max(720, Math.min(1300, a.width * 3)),
      height: 60 + a.layers * 28,
      marginLeft: 50,
      x: { label: "unit", domain: [0, a.width] },
      y: { label: "layer", domain: [0, a.layers], reverse: true, ticks: a.layers, tickFormat: (d: number) => (Number.isInteger(d) && d < a.layers ? String(d) : "") },
      color: { type: "linear", scheme: "YlOrRd", domain: [0, a.maxScore], legend: true, label: "attribution score" },
      marks: [
        Plot.frame({ stroke: "#ccc" }),
        Plot.rect(cells, { x1: "unit", x2: (d) => d.unit + 1, y1: "layer", y2: (d) => d.layer + 1, fill: "score", inset: 0, tip: true, title: (d) => `L${d.layer}:${d.unit} ${fmt(d.score)}${d.kn ? " (KN)" : ""}` }),
        Plot.dot(
          cells.filter((c) => c.kn),
          { x: (d) => d.unit + 0.5, y: (d) => d.layer + 0.5, r: 5, stroke: "#111", strokeWidth: 1.5 },
        ),
      ],
    };
  }, [a]);
  return (
    <div class="card">
      <p class="sub">
        prompt <code>{a.prompt}</code> · answer <strong>{a.prediction}</strong> · gold probability {fmt(a.goldProbability)} · {a.layers} layers × {a.width} units ·
        {" "}circled: {a.knowledgeNeurons.length} knowledge neurons
      </p>
      <Chart name="heatmap" options={options} label={`Attribution heatmap of ${model}, ${a.layers} layers by ${a.width} units`} />
      <DataTable
        caption="Knowledge neurons"
        file="knowledge-neurons"
        rows={a.knowledgeNeurons}
        columns={[
          { header: "neuron", value: (n) => `L${n.layer}:${n.index}`, render: (n) => <NeuronLink model={model} n={n} /> },
          { header: "layer", value: (n) => n.layer, numeric: true },
          { header: "unit", value: (n) => n.index, numeric: true },
          { header: "score", value: (n) => n.score, numeric: true },
        ]}
      />
    </div>
  );
}

/** Which knowledge neurons the languages share: a language × language count matrix and the neurons in several languages. */
function Sharing({ runs, model, factId }: { runs: Run[]; model: string; factId: string }) {
  const langs = runs.map((r) => r.language);
  const sets = new Map(runs.map((r) => [r.language, new Set(r.neurons.map(key))]));
  const matrix = langs.flatMap((a) => langs.map((b) => ({ a, b, shared: [...sets.get(a)!].filter((k) => sets.get(b)!.has(k)).length })));
  const byNeuron = new Map<string, { layer: number; index: number; languages: string[] }>();
  for (const r of runs)
    for (const n of r.neurons) {
      const entry = byNeuron.get(key(n)) ?? { layer: n.layer, index: n.index, languages: [] };
      entry.languages.push(r.language);
      byNeuron.set(key(n), entry);
    }
  const shared = [...byNeuron.values()].filter((n) => n.languages.length > 1).sort((x, y) => y.languages.length - x.languages.length || x.layer - y.layer || x.index - y.index);
  const options = useMemo<Plot.PlotOptions>(
    () => ({
      width: 120 + langs.length * 56,
      height: 80 + langs.length * 40,
      marginLeft: 50,
      padding: 0.05,
      x: { domain: langs, label: null, axis: "top" },
      y: { domain: langs, label: null },
      color: { scheme: "Blues", legend: true, label: "shared knowledge neurons" },
      marks: [Plot.cell(matrix, { x: "b", y: "a", fill: "shared" }), Plot.text(matrix, { x: "b", y: "a", text: "shared", fill: (d) => (d.shared > 0 ? "black" : "#999") })],
    }),
    [JSON.stringify(matrix)],
  );
  return (
    <>
      <h2>Knowledge neurons shared across languages</h2>
      <p class="sub">
        Diagonal: knowledge neurons per language. Highlighted below: neurons that are knowledge neurons in every one of the {langs.length} indexed languages
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
            { header: "neuron", value: (n) => `L${n.layer}:${n.index}`, render: (n) => <NeuronLink model={model} n={n} /> },
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
