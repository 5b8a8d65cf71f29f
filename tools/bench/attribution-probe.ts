// One side of `npm run bench:attribution -- --baseline-ref <ref>`: a child process that loads a
// model with the code of one source tree (this checkout or a temporary worktree of the baseline
// ref), then times whole attributions on request, so both trees are measured in the same run,
// round by round, interleaved. It imports only names both the old synchronous and the new
// asynchronous model ports export, and awaits every result (a no-op on a synchronous value).
//
//   node --import tsx tools/bench/attribution-probe.ts <tree root> <model> <languages> <per language> <method> <steps> [backend] [row budget]
// then, per line on stdin: "round" -> one JSON line {wall, cpu, digest, scores (first round)}; "quit" -> exit.
// A tree that can attribute several facts at once (attributeFacts) gets all prompts in one batch,
// as its indexer would; an older one attributes them one by one.
import { createHash } from "node:crypto";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";
import { seedPrompts } from "./seed-prompts.ts";

const [root, modelSpec, languages, perLanguage, method, steps, backend = "wasm", rowBudget] = process.argv.slice(2);
const load = (rel: string) => import(pathToFileURL(path.join(root, rel)).href);

const { loadModel } = await load("src/model/index.ts");
const { attributeFact, attributeFacts } = await load("src/attribution/fact-attribution.ts");
const { attributionModel } = await load("src/attribution/model-port.ts");
const { buildPrompt, PromptError } = await load("src/attribution/prompts.ts");

if (rowBudget) process.env.KN_ROW_BUDGET = rowBudget; // older trees read only the environment
const lm = await loadModel(modelSpec, { backend });
const model = attributionModel(lm);
const prompts = seedPrompts(root, {
  build: (fact) => buildPrompt(lm.tokenizer, fact, lm.architecture),
  isPromptError: (err) => err instanceof PromptError,
  maxPositions: lm.maxPositions,
}, languages.split(","), Number(perLanguage));
const options = { method, steps: Number(steps), targetMode: "clean" };
// warm-up, not timed: layer 0 runs every layer above it forward and backward once
await attributeFact(model, prompts[0].fact, { method, steps: Number(steps), layers: [0] });
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
say({ ready: true, shape: `${lm.nLayers}×${lm.ffnWidth}`, prompts: prompts.map((p) => ({ ids: p.ids, pieces: p.pieces })) });

type Scores = { scores: Float32Array[] };
const attributeAll = async (): Promise<Scores[]> => {
  if (attributeFacts) return attributeFacts(model, prompts.map((p) => p.fact), options);
  const out: Scores[] = [];
  for (const p of prompts) out.push(await attributeFact(model, p.fact, options));
  return out;
};
let first = true;
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() === "quit") break;
  const digest = createHash("sha256");
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const results = await attributeAll();
  const c = process.cpuUsage(c0);
  for (const res of results) for (const row of res.scores) digest.update(new Uint8Array(row.buffer, row.byteOffset, row.byteLength));
  const scores = first ? results.map((r) => r.scores.flatMap((row) => Array.from(row))) : undefined;
  first = false;
  say({ wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, digest: digest.digest("hex"), scores });
}
lm.dispose();
process.exit(0);
