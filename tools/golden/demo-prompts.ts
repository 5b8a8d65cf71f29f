// Writes the token ids of a few seed-fact prompts for a checkpoint (built by the same prompt
// builders as the indexer), so tools/golden/attribute.py can compute float64 attributions for
// them:   npx tsx tools/golden/demo-prompts.ts models/demo-mbert /tmp/p.json
//         /usr/bin/python3 tools/golden/attribute.py --fixture-for models/demo-mbert --prompts /tmp/p.json \
//             --out test/fixtures/demo-attribution/demo-mbert.json
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPrompt, causalPromptText, maskedPromptText } from "../../src/attribution/prompts.ts";
import { PROJECT_ROOT } from "../../src/config.ts";
import { loadModel } from "../../src/model/index.ts";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) throw new Error("usage: demo-prompts.ts <model dir> <out.json>");
const lm = await loadModel(dir);
// text/target/language: what a person passes to `kn attribute` for the same fact (one mask token).
const prompts: { arch: string; ids: number[]; pieces: number[]; text: string; target: string; language: string; fact: string }[] = [];
const wanted = { single: 2, multi: 2 };
for (const [language, relation] of [["en", "P36"], ["zh", "P36"], ["fr", "P19"], ["ru", "P17"], ["de", "P37"]]) {
  const template = readFileSync(join(PROJECT_ROOT, "seeds/mlama", language, "templates.jsonl"), "utf8")
    .split("\n").filter(Boolean).map((l) => JSON.parse(l) as { relation: string; template: string })
    .find((t) => t.relation === relation)!.template;
  for (const line of readFileSync(join(PROJECT_ROOT, "seeds/mlama", language, `${relation}.jsonl`), "utf8").split("\n").filter(Boolean)) {
    const f = JSON.parse(line) as { uuid: string; sub_label: string; obj_label: string };
    const p = buildPrompt(lm.tokenizer, { template, subject: f.sub_label, object: f.obj_label, language }, lm.architecture);
    const kind = p.targetIds.length > 1 ? "multi" : "single";
    if (wanted[kind] <= 0 || p.targetIds.length > 3) continue;
    wanted[kind]--;
    const text = lm.architecture === "masked"
      ? maskedPromptText(template, f.sub_label, lm.tokenizer.maskToken!, 1, language)
      : causalPromptText(template, f.sub_label);
    prompts.push({ arch: lm.architecture, ids: p.inputIds, pieces: p.targetIds, text, target: f.obj_label, language, fact: `${language}:${f.uuid}` });
    break;
  }
}
writeFileSync(out, JSON.stringify(prompts.map(({ fact, ...p }) => p)));
process.stderr.write(`${prompts.length} prompts: ${prompts.map((p) => `${p.fact} (${p.pieces.length} piece(s))`).join(", ")}\n`);
lm.dispose();
