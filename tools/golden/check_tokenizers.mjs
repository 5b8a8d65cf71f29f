// Checks that @huggingface/tokenizers, loading each golden case's tokenizer.json +
// tokenizer_config.json, reproduces the inputIds that the Python generator computed with its own
// tokenizer implementation (and that GPT-2 ids decode back to the prompt text).
//
//   node tools/golden/check_tokenizers.mjs [fixturesDir] [extra.json]
//
// extra.json (optional): [{"case": "<case>", "text": "...", "ids": [...]}, ...] for more texts.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const root = process.argv[2] ?? "test/fixtures/golden";
const extra = process.argv[3] ? JSON.parse(readFileSync(process.argv[3], "utf8")) : [];
const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

let failures = 0;
let checked = 0;
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  if (!existsSync(join(dir, "golden.json"))) continue;
  const tok = new Tokenizer(readJson(join(dir, "tokenizer.json")), readJson(join(dir, "tokenizer_config.json")));
  const golden = readJson(join(dir, "golden.json"));
  const items = golden.prompts.map((p) => ({ text: p.text, ids: p.inputIds }));
  for (const e of extra) if (e.case === name) items.push(e);
  for (const { text, ids } of items) {
    const got = tok.encode(text).ids;
    checked++;
    if (JSON.stringify(got) !== JSON.stringify(ids)) {
      failures++;
      console.log(`FAIL ${name}: ${JSON.stringify(text)}\n  python: ${JSON.stringify(ids)}\n  js:     ${JSON.stringify(got)}`);
    }
    if (golden.arch === "causal") {
      const back = tok.decode(ids);
      if (back !== text) {
        failures++;
        console.log(`FAIL ${name}: decode ${JSON.stringify(back)} != ${JSON.stringify(text)}`);
      }
    }
  }
  console.log(`${name}: ${items.length} texts checked`);
}
console.log(failures ? `${failures} failures` : `all ${checked} encodings match`);
process.exit(failures ? 1 : 0);
