// The committed demo models (models/demo-mbert, models/demo-mgpt): loaded through the model
// runtime exactly like a downloaded checkpoint, with their files checked and a handful of seed
// facts per language spot-checked with the same prompt builders as `kn eval`.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { directAnswerMatches } from "../src/analysis/fact-checking.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { buildCausalPrompt, buildMaskedPrompt } from "../src/attribution/prompts.ts";
import { loadModel, type LanguageModel } from "../src/model/index.ts";
import { evaluateFacts, summarize } from "../src/train/evaluate.ts";
import { loadSeeds, type SeedFact, type SeedSet } from "../src/train/seeds.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md"];
const PER_LANGUAGE = 8;

let seeds: SeedSet;

beforeAll(async () => {
  seeds = await loadSeeds(path.join(ROOT, "seeds", "mlama"));
});

/** A fixed spread of facts per language: every k-th fact, so each relation shows up. */
function spotFacts(language: string): SeedFact[] {
  const facts = seeds.facts.filter((f) => f.language === language);
  const step = Math.floor(facts.length / PER_LANGUAGE);
  return Array.from({ length: PER_LANGUAGE }, (_, i) => facts[i * step + (i % Math.max(1, step))]);
}

for (const spec of [
  { name: "demo-mbert", modelType: "bert", architecture: "masked" as const },
  { name: "demo-mgpt", modelType: "gpt2", architecture: "causal" as const },
]) {
  describe(`models/${spec.name}`, () => {
    const dir = path.join(ROOT, "models", spec.name);
    let model: LanguageModel;

    beforeAll(async () => {
      model = await loadModel(spec.name);
    });
    afterAll(() => model?.dispose());

    it("has the Hugging Face files, under 15 MB, and a model card with its accuracy", () => {
      for (const f of FILES) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
      const total = FILES.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
      expect(total).toBeLessThan(15 * 1024 * 1024);
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      expect(config.model_type).toBe(spec.modelType);
      const card = fs.readFileSync(path.join(dir, "README.md"), "utf8");
      expect(card).toMatch(/"overall":/);
      const st = fs.readFileSync(path.join(dir, "model.safetensors"));
      const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString("utf8"));
      const dtypes = new Set(Object.entries(header).filter(([k]) => k !== "__metadata__").map(([, v]) => (v as { dtype: string }).dtype));
      expect([...dtypes]).toEqual(["F32"]);
    });

    it("is shaped like its big sibling, only smaller", () => {
      expect(model.modelType).toBe(spec.modelType);
      expect(model.architecture).toBe(spec.architecture);
      expect(model.nLayers).toBeGreaterThanOrEqual(4);
      expect(model.ffnWidth).toBeGreaterThanOrEqual(4 * model.hidden);
      const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
      expect(config.num_attention_heads ?? config.n_head).toBeGreaterThan(1);
    });

    it("has multi-token objects in every language", () => {
      for (const language of seeds.languages) {
        const facts = seeds.facts.filter((f) => f.language === language);
        const multi = facts.filter((f) =>
          (spec.architecture === "masked" ? buildMaskedPrompt(model.tokenizer, f) : buildCausalPrompt(model.tokenizer, f)).targetIds.length > 1,
        );
        expect(multi.length, language).toBeGreaterThan(0);
      }
    });

    it("knows a handful of seed facts in every language", async () => {
      for (const language of seeds.languages) {
        const facts = spotFacts(language);
        const results = await evaluateFacts(model, facts);
        const right = results.filter((r) => r.correct).length;
        const wrong = results.filter((r) => !r.correct).map((r) => `${r.fact.subject} -> ${r.fact.object} (got ${r.predicted})`);
        // the models are at >= 90% per language; allow one miss in a handful
        expect(right, `${language}: ${wrong.join("; ")}`).toBeGreaterThanOrEqual(PER_LANGUAGE - 1);
      }
    });

    it("the direct-answer baseline of fact-checking (§7.3) accepts its answers in Chinese too, and refuses a wrong object", async () => {
      const fm = attributionModel(model);
      expect(await directAnswerMatches(fm, "[X]的首都是[Y]。", "爱尔兰", "都柏林", "zh")).toBe(true);
      expect(await directAnswerMatches(fm, "[X]的首都是[Y]。", "爱尔兰", "莫斯科", "zh")).toBe(false);
      expect(await directAnswerMatches(fm, "The capital of [X] is [Y] .", "Ireland", "Dublin", "en")).toBe(true);
    });
  });
}

describe("kn eval --templates", () => {
  const kn = (args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), "eval", ...args], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });

  it("reports the trained and the held-out phrasing side by side; the held-out one is the paraphrase, not the seed template", async () => {
    const r = kn(["--model", "demo-mgpt", "--languages", "en", "--relations", "P17", "--json", "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { trained: { facts: number; overall: number }; heldout: { facts: number; overall: number } };
    const facts = seeds.facts.filter((f) => f.language === "en" && f.relation === "P17");
    expect(out.trained.facts).toBe(facts.length);
    expect(out.heldout.facts).toBe(facts.length);
    // independently: the same facts asked in the literal held-out wording
    const model = await loadModel("demo-mgpt");
    try {
      const held = summarize(await evaluateFacts(model, facts.map((f) => ({ ...f, template: "[X] lies in the country [Y] ." }))));
      expect(out.heldout.overall).toBe(held.overall);
      expect(out.trained.overall).toBe(summarize(await evaluateFacts(model, facts)).overall);
    } finally {
      model.dispose();
    }
    const bad = kn(["--model", "demo-mgpt", "--templates", "paraphrased"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--templates must be trained, heldout or all/);
  }, 300_000);
});

