// Demo-model training pieces that need no trained model: tokenizer building (loaded back through
// @huggingface/tokenizers), the corpus sampler, the safetensors writer and determinism of a few
// training steps.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCausalPrompt, buildMaskedPrompt } from "../src/attribution/prompts.ts";
import { openSafetensors } from "../src/model/safetensors.ts";
import { createTokenizer } from "../src/model/tokenizer.ts";
import { CorpusSampler, DEFAULT_MIX, factTemplates, tokenizerTexts } from "../src/train/corpus.ts";
import { causalTemplateProblem, fillTemplate } from "../src/data/templates.ts";
import { HELD_OUT_PARAPHRASES, heldOutTemplates, withTemplates } from "../src/data/template-sets.ts";
import { encodeSafetensors } from "../src/train/export.ts";
import { PARAPHRASES } from "../src/train/paraphrases.ts";
import { Rng } from "../src/train/rng.ts";
import { loadSeeds, type SeedSet } from "../src/train/seeds.ts";
import { buildTokenizer, defaultOptions, trainDemo } from "../src/train/trainer.ts";

const SEEDS = path.resolve(import.meta.dirname, "../seeds/mlama");
let seeds: SeedSet;

beforeAll(async () => {
  seeds = await loadSeeds(SEEDS, { languages: ["en", "zh", "ru"] });
});

describe("demo-model corpus and tokenizers", () => {
  it("every paraphrase has one [X] before one [Y]", () => {
    for (const [relation, byLang] of Object.entries(PARAPHRASES)) {
      for (const [lang, templates] of Object.entries(byLang)) {
        for (const t of templates) {
          expect(t.split("[X]").length - 1, `${relation} ${lang}: ${t}`).toBe(1);
          expect(t.split("[Y]").length - 1, `${relation} ${lang}: ${t}`).toBe(1);
          expect(t.indexOf("[X]")).toBeLessThan(t.indexOf("[Y]"));
        }
      }
    }
  });

  it("holds out one phrasing per relation and language, [Y] final, kept out of the corpus and the tokenizer's texts", () => {
    for (const relation of seeds.relations) {
      for (const language of seeds.languages) {
        const held = heldOutTemplates(relation, language);
        expect(held.length, `${relation} ${language}`).toBeGreaterThanOrEqual(1);
        for (const t of held) expect(causalTemplateProblem(t), t).toBeNull();
      }
    }
    expect(Object.keys(HELD_OUT_PARAPHRASES).sort()).toEqual([...seeds.relations].sort());
    const texts = new Set([...tokenizerTexts(seeds, "masked"), ...tokenizerTexts(seeds, "causal")]);
    for (const f of seeds.facts) {
      const held = heldOutTemplates(f.relation, f.language);
      for (const t of held) {
        expect(factTemplates(f)).not.toContain(t);
        expect(texts.has(fillTemplate(t, f.subject, f.object)), t).toBe(false);
      }
    }
    // the evaluation restates every fact once per held-out template
    const restated = withTemplates(seeds.facts, "heldout", (f) => f.relation);
    expect(restated).toHaveLength(seeds.facts.length);
    expect(restated.every((f, i) => f.template === heldOutTemplates(f.relation, f.language)[0] && f.subject === seeds.facts[i].subject)).toBe(true);
  });

  it("builds a WordPiece tokenizer that loads, covers the corpus and splits some objects", () => {
    const bundle = buildTokenizer(seeds, "masked", 1500, 64);
    const tok = new Tokenizer(bundle.tokenizerJson, bundle.tokenizerConfig);
    const unk = tok.token_to_id("[UNK]");
    for (const text of tokenizerTexts(seeds, "masked").slice(0, 500)) expect(tok.encode(text).ids).not.toContain(unk);
    const enc = tok.encode("Paris is located in the country of France .");
    expect(enc.ids[0]).toBe(tok.token_to_id("[CLS]"));
    expect(enc.ids.at(-1)).toBe(tok.token_to_id("[SEP]"));
    const wrapped = createTokenizer(bundle, { maskToken: "[MASK]" });
    const multi = seeds.facts.filter((f) => buildMaskedPrompt(wrapped, f).targetIds.length > 1);
    expect(multi.length).toBeGreaterThan(50);
    expect(multi.some((f) => f.language === "en")).toBe(true);
  });

  it("builds a byte-level BPE tokenizer that round-trips every language", () => {
    const bundle = buildTokenizer(seeds, "causal", 1500, 64);
    const tok = createTokenizer(bundle, { eosToken: "<|endoftext|>" });
    expect(tok.eosId).toBeDefined();
    for (const f of seeds.facts.slice(0, 300)) {
      const p = buildCausalPrompt(tok, f);
      expect(tok.decode([...p.inputIds, ...p.targetIds])).toBe(p.text + p.objectText);
    }
    expect(seeds.facts.filter((f) => buildCausalPrompt(tok, f).targetIds.length > 1).length).toBeGreaterThan(50);
  });

  it("samples the same epoch for the same seed, and the seed prompts first", () => {
    const bundle = buildTokenizer(seeds, "masked", 1500, 64);
    const tok = createTokenizer(bundle, { maskToken: "[MASK]" });
    const sampler = new CorpusSampler("masked", seeds, tok, 1500, DEFAULT_MIX);
    const a = sampler.epoch(new Rng(3));
    const b = sampler.epoch(new Rng(3));
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(seeds.facts.length);
    const evalItems = sampler.evalExamples();
    const first = evalItems[0];
    const prompt = buildMaskedPrompt(tok, first.fact);
    expect(first.example.ids).toEqual(prompt.inputIds);
    expect(first.example.positions).toEqual(prompt.targetPositions);
    expect(first.example.targets).toEqual(prompt.targetIds);
  });

  it("writes safetensors the model runtime reads back", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kn-st-"));
    const file = path.join(dir, "model.safetensors");
    fs.writeFileSync(file, encodeSafetensors([
      { name: "b", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: "a", shape: [1], data: Float32Array.from([-1.5]) },
    ]));
    const st = openSafetensors(file);
    expect(st.names().sort()).toEqual(["a", "b"]);
    expect(Array.from(st.read("b").data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(st.read("a").shape).toEqual([1]);
    expect((fs.statSync(file).size - 8) % 4).toBe(0);
  });

  it("trains deterministically: same seed, same weights", async () => {
    const run = async (seed: number) => {
      const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "kn-demo-"));
      const r = await trainDemo({
        ...defaultOptions("causal"),
        seedsDir: SEEDS,
        outDir,
        languages: ["en"],
        seed,
        hidden: 16,
        heads: 2,
        ffn: 64,
        layers: 2,
        vocabSize: 600,
        batchSize: 16,
        epochs: 1,
        maxSteps: 3,
        evalEvery: 0,
      });
      for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) {
        expect(fs.existsSync(path.join(outDir, f)), f).toBe(true);
      }
      return r.weightsSha256;
    };
    const a = await run(5);
    expect(await run(5)).toBe(a);
    expect(await run(6)).not.toBe(a);
  });
});
