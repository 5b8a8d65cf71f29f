// The edit panel of the fact view: applies an edit to the live model with a write key typed here
// (kept in sessionStorage: this tab only), shows the gold probability before and after per
// language and on unrelated facts, and reverts it. A live check (the model's current top answers
// on the prompt) is taken just before the edit, after it and after the revert, so a revert is seen
// to restore the model's numbers.
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, apiKey, request, useAction } from "../api.ts";
import { Chart, Plot } from "../components/chart.tsx";
import { ErrorBox } from "../components/status.tsx";
import { DataTable, fmt } from "../components/table.tsx";
import { graphql } from "../gql/index.ts";
import type { EditFieldsFragment, EditInput, LiveAnswerQuery } from "../gql/graphql.ts";

const EDIT_FIELDS = graphql(`
  fragment EditFields on Edit {
    id kind target status neurons { layer unit } reliability generality locality
    effects { fact { id labels(languages: ["en"]) { subject object } } language related probabilityBefore probabilityAfter change answerBefore answerAfter }
  }
`);
const APPLY = graphql(`
  mutation ApplyEdit($input: EditInput!) { applyEdit(input: $input) { ...EditFields } }
`);
const REVERT = graphql(`
  mutation RevertEdit($id: ID!) { revertEdit(id: $id) { ...EditFields } }
`);
const LIVE = graphql(`
  query LiveAnswer($model: String!, $text: String!) { predict(model: $model, text: $text, top: 5) { top { token probability } activeEdits } }
`);

type Edit = EditFieldsFragment;
type LiveAnswer = LiveAnswerQuery["predict"];

const KINDS = ["SUPPRESS", "ENHANCE", "ERASE", "UPDATE"] as const;
const TARGETS = ["KN", "LIKN", "EXPLICIT"] as const;

function parseNeurons(text: string): { layer: number; unit: number }[] | string {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const out = [];
  for (const p of parts) {
    const m = p.match(/^L?(\d+):(\d+)$/i);
    if (!m) return `"${p}" is not a neuron: write layer:unit, e.g. L2:17`;
    out.push({ layer: Number(m[1]), unit: Number(m[2]) });
  }
  return out.length ? out : "list at least one neuron (layer:unit)";
}

export function EditPanel({ model, factId, runs, language }: { model: string; factId: string; runs: { language: string; prompt: string }[]; language: string }) {
  const [key, setKey] = useState(apiKey.get());
  const [kind, setKind] = useState<(typeof KINDS)[number]>("SUPPRESS");
  const [target, setTarget] = useState<(typeof TARGETS)[number]>("KN");
  const [neurons, setNeurons] = useState("");
  const [newObject, setNewObject] = useState("");
  const { busy, error, run } = useAction();
  const [edit, setEdit] = useState<Edit | null>(null);
  const [live, setLive] = useState<{ phase: string; answer: LiveAnswer }[]>([]);
  const prompt = runs.find((r) => r.language === language)?.prompt ?? runs[0].prompt;

  const measure = async (phase: string) => {
    const { predict } = await request(LIVE, { model, text: prompt });
    setLive((rows) => [...rows.filter((r) => r.phase !== phase), { phase, answer: predict }]);
  };
  useEffect(() => {
    setLive([]);
    setEdit(null);
  }, [model, factId, language]);

  const apply = () =>
    run(async () => {
      apiKey.set(key);
      const input: EditInput = { model, kind, target, fact: factId };
      if (target === "KN") input.language = language;
      if (target === "EXPLICIT") {
        const parsed = parseNeurons(neurons);
        if (typeof parsed === "string") throw new ApiError(parsed, "BAD_USER_INPUT", 0);
        input.neurons = parsed;
      }
      if (kind === "UPDATE") input.newObject = newObject;
      // the live answers before the edit are measured on demand: the view loads in two requests
      setLive([]);
      await measure("before");
      const { applyEdit } = await request(APPLY, { input }, { key });
      setEdit(applyEdit);
      await measure("after edit");
    });
  const revert = () =>
    run(async () => {
      const { revertEdit } = await request(REVERT, { id: edit!.id }, { key });
      setEdit(revertEdit);
      await measure("after revert");
    });

  return (
    <section class="card" data-panel="edit" aria-labelledby="edit-title">
      <h2 id="edit-title">Edit the live model</h2>
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          apply();
        }}
      >
        <label>
          kind
          <select name="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as typeof kind)}>
            {KINDS.map((k) => (
              <option value={k}>{k.toLowerCase()}</option>
            ))}
          </select>
        </label>
        <label>
          neurons
          <select name="target" value={target} onChange={(e) => setTarget(e.currentTarget.value as typeof target)}>
            <option value="KN">knowledge neurons ({language})</option>
            <option value="LIKN">language-independent (all languages)</option>
            <option value="EXPLICIT">chosen neurons</option>
          </select>
        </label>
        {target === "EXPLICIT" && (
          <label>
            chosen (layer:unit …)
            <input name="neurons" value={neurons} onInput={(e) => setNeurons(e.currentTarget.value)} placeholder="L2:17 L3:5" />
          </label>
        )}
        {kind === "UPDATE" && (
          <label>
            new object
            <input name="newObject" value={newObject} onInput={(e) => setNewObject(e.currentTarget.value)} required />
          </label>
        )}
        <label>
          API key (write; kept in this tab only)
          <input name="apiKey" type="password" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        </label>
        <button class="primary" type="submit" disabled={busy || !key}>
          Apply
        </button>
        {edit && (
          <button type="button" name="revert" onClick={revert} disabled={busy || edit.status !== "ACTIVE"}>
            Revert
          </button>
        )}
        {busy && (
          <span class="loading" role="status">
            working…
          </span>
        )}
      </form>
      {error && <ErrorBox error={error} />}
      {edit && <EditResult edit={edit} />}
      <LiveCheck live={live} prompt={prompt} />
    </section>
  );
}

function EditResult({ edit }: { edit: Edit }) {
  const rows = edit.effects.map((e) => ({
    ...e,
    label: e.related ? `${e.language} (this fact)` : `${e.fact.labels[0]?.subject ?? e.fact.id} (${e.language}, unrelated)`,
  }));
  const options = useMemo<Plot.PlotOptions>(() => {
    const bars = rows.flatMap((r) => [
      { label: r.label, phase: "before", p: r.probabilityBefore },
      { label: r.label, phase: "after", p: r.probabilityAfter },
    ]);
    return {
      width: 760,
      height: 40 + rows.length * 34,
      marginLeft: 230,
      x: { label: "gold probability", domain: [0, 1], grid: true },
      y: { label: null, domain: ["before", "after"], axis: null },
      fy: { label: null, domain: rows.map((r) => r.label) },
      color: { domain: ["before", "after"], range: ["#9aa6b8", "#d7301f"], legend: true },
      marks: [Plot.barX(bars, { x: "p", y: "phase", fy: "label", fill: "phase", tip: true }), Plot.ruleX([0])],
    };
  }, [edit]);
  return (
    <div data-edit={edit.id} data-edit-status={edit.status}>
      <p>
        Edit <code>{edit.id}</code> ({edit.kind.toLowerCase()} of {edit.neurons.length} neurons, target {edit.target}): <strong>{edit.status}</strong> · reliability{" "}
        {fmt(edit.reliability)} · generality {fmt(edit.generality)} · locality {fmt(edit.locality)}
      </p>
      <Chart name="edit-bars" options={options} label="Gold probability before and after the edit, per language and on unrelated facts" />
      <DataTable
        caption="Edit effects"
        file={`edit-${edit.id}-effects`}
        rows={rows}
        columns={[
          { header: "fact", value: (r) => r.label },
          { header: "language", value: (r) => r.language },
          { header: "related", value: (r) => r.related },
          { header: "p before", value: (r) => r.probabilityBefore, numeric: true },
          { header: "p after", value: (r) => r.probabilityAfter, numeric: true },
          { header: "change", value: (r) => r.change, numeric: true },
          { header: "answer before", value: (r) => r.answerBefore },
          { header: "answer after", value: (r) => r.answerAfter },
        ]}
      />
    </div>
  );
}

function LiveCheck({ live, prompt }: { live: { phase: string; answer: LiveAnswer }[]; prompt: string }) {
  const rows = live.flatMap(({ phase, answer }) => answer.top.map((t, rank) => ({ phase, rank: rank + 1, ...t, edits: answer.activeEdits.length })));
  return (
    <DataTable
      caption={`Live answers on "${prompt}"`}
      file="live-answers"
      rows={rows}
      empty="Measured when an edit is applied."
      columns={[
        { header: "when", value: (r) => r.phase },
        { header: "rank", value: (r) => r.rank, numeric: true },
        { header: "token", value: (r) => r.token },
        { header: "probability", value: (r) => r.probability, numeric: true, render: (r) => r.probability.toFixed(6) },
        { header: "active edits", value: (r) => r.edits, numeric: true },
      ]}
    />
  );
}
