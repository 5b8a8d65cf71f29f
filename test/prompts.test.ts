// Prompt rules for real mLAMA templates: literal label replacement, elided articles, templates
// whose object slot is not final, and causal teacher forcing on the whole string's tokenization.
// Real tokenizers: the demo models' (loaded through @huggingface/tokenizers) and a byte-level
// BPE trained here so that a merge crosses the prompt/object boundary.
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  PromptError,
  buildCausalPrompt,
  buildCausalSentence,
  buildMaskedPrompt,
  causalObjectText,
  causalPromptText,
  maskedPromptText,
  usableTemplates,
} from "../src/attribution/prompts.ts";
import { answersObject } from "../src/attribution/answer.ts";
import { fillTemplate, objectSlotIsFinal } from "../src/data/templates.ts";
import { openCheckpoint } from "../src/model/checkpoint.ts";
import { createTokenizer } from "../src/model/tokenizer.ts";
import { gpt2TokenizerConfig, gpt2TokenizerJson, GPT2_SPECIAL_TOKENS_MAP, trainByteLevelBpe } from "../src/train/tokenizers.ts";

const MODELS = path.resolve(import.meta.dirname, "../models");
const mbert = createTokenizer(openCheckpoint(path.join(MODELS, "demo-mbert")).tokenizer, { maskToken: "[MASK]" });
const mgpt = createTokenizer(openCheckpoint(path.join(MODELS, "demo-mgpt")).tokenizer, { eosToken: "<|endoftext|>" });

describe("literal replacement of labels", () => {
  const tricky = "Ana $& Bo $1 $$ $' $`";

  it("fills [X] and [Y] without expanding $ patterns", () => {
    expect(fillTemplate("[X] was born in [Y] .", tricky, "$&")).toBe(`${tricky} was born in $& .`);
    // what String.replace with a string would have made of it
    expect("[X] was born in [Y] .".replace("[X]", "$&")).toBe("[X] was born in [Y] .");
  });

  it("masked and causal prompts keep a subject with $& intact", () => {
    const fact = { template: "[X] was born in [Y] .", subject: "A$&B", object: "Paris", language: "en" };
    expect(buildMaskedPrompt(mbert, fact).text).toBe("A$&B was born in [MASK] .");
    const causal = buildCausalPrompt(mgpt, fact);
    expect(causal.text).toBe("A$&B was born in");
    expect(mgpt.decode(causal.inputIds)).toBe("A$&B was born in");
    expect(causalPromptText("[X] is in [Y]", "$$")).toBe("$$ is in");
  });
});

describe("elided articles: no space after an apostrophe", () => {
  it("causal targets take the template's spacing", () => {
    expect(causalObjectText("France", "fr", "[X] est la capitale de la [Y] .")).toBe(" France");
    expect(causalObjectText("Italie", "fr", "[X] est la capitale d'[Y] .")).toBe("Italie");
    expect(causalObjectText("Italia", "it", "[X] è la capitale dell'[Y] .")).toBe("Italia");
    expect(causalObjectText("Italia", "it", "[X] è la capitale dell’[Y] .")).toBe("Italia");
    expect(causalObjectText("巴黎", "zh", "[X]的首都是 [Y]。")).toBe("巴黎"); // unspaced language
    const p = buildCausalPrompt(mgpt, { template: "[X] est la capitale d'[Y] .", subject: "Rome", object: "Italie", language: "fr" });
    expect(p.text).toBe("Rome est la capitale d'");
    expect(p.objectText).toBe("Italie");
    expect(mgpt.decode([...p.inputIds, ...p.targetIds])).toBe("Rome est la capitale d'Italie");
  });

  it("masked prompts put the masks right after the apostrophe", () => {
    expect(maskedPromptText("[X] est la capitale d'[Y] .", "Rome", "[MASK]", 2, "fr")).toBe("Rome est la capitale d'[MASK] [MASK] .");
    const p = buildMaskedPrompt(mbert, { template: "[X] est la capitale d'[Y] .", subject: "Rome", object: "Italie", language: "fr" });
    expect(p.text.startsWith("Rome est la capitale d'[MASK]")).toBe(true);
    expect(p.targetPositions.length).toBe(p.targetIds.length);
  });
});

describe("templates whose object slot is not final", () => {
  const german = "[X] wurde in [Y] geboren .";
  const fact = { template: german, subject: "Goethe", object: "Frankfurt", language: "de" };

  it("masked models use them: any slot position", () => {
    expect(objectSlotIsFinal(german)).toBe(false);
    const p = buildMaskedPrompt(mbert, fact);
    expect(p.text).toMatch(/^Goethe wurde in (\[MASK\] ?)+ geboren \.$/);
    expect(usableTemplates([german, "[X] ist in [Y] geboren ."], "masked")).toEqual([german, "[X] ist in [Y] geboren ."]);
  });

  it("causal models refuse them instead of cutting them to a prefix", () => {
    expect(() => causalPromptText(german, "Goethe")).toThrow(PromptError);
    expect(() => buildCausalPrompt(mgpt, fact)).toThrow(/object slot \[Y\] is not final/);
    expect(usableTemplates([german, "[X] wurde geboren in [Y] ."], "causal")).toEqual(["[X] wurde geboren in [Y] ."]);
    expect(usableTemplates(["[Y] ist der Geburtsort von [X] ."], "causal")).toEqual([]);
    // a training sentence may go on after the object: only probes are refused
    const sentence = buildCausalSentence(mgpt, fact);
    expect(sentence.text).toBe("Goethe wurde in");
    expect(sentence.objectText).toBe(" Frankfurt");
    // punctuation after [Y] still counts as final
    expect(usableTemplates(["[X]的首都是[Y]。", "« [X] » vient de [Y] »."], "causal")).toHaveLength(2);
  });
});

describe("causal teacher forcing tokenizes the whole string", () => {
  it("object pieces are the whole string's tokens after the prompt", () => {
    const fact = { template: "The capital of [X] is [Y] .", subject: "France", object: "Paris", language: "en" };
    const p = buildCausalPrompt(mgpt, fact);
    const whole = mgpt.encode("The capital of France is Paris", { addSpecialTokens: false });
    expect([...p.inputIds, ...p.targetIds]).toEqual(whole);
    expect(p.inputIds).toEqual(mgpt.encode("The capital of France is", { addSpecialTokens: false }));
    expect(p.promptTail).toBe("");
  });

  it("a boundary inside a token gives the straddling token to the object", () => {
    // A byte-level BPE (GPT-2 pre-tokenizer: a run of CJK characters is one word) that learned
    // the merge 是+巴, so "…首都是巴黎" is tokenized "…首都 | 是巴 | 黎": the boundary after 是
    // falls inside the token 是巴.
    const texts = [...Array(40).fill("是巴"), ...Array(10).fill("法国的首都是"), ...Array(10).fill("巴黎")];
    const { vocab, merges } = trainByteLevelBpe(texts, 256 + 40);
    const tok = createTokenizer(
      { tokenizerJson: gpt2TokenizerJson(vocab, merges), tokenizerConfig: gpt2TokenizerConfig(64), specialTokensMap: GPT2_SPECIAL_TOKENS_MAP },
      { eosToken: "<|endoftext|>" },
    );
    const whole = tok.encode("法国的首都是巴黎", { addSpecialTokens: false });
    expect(whole.map((id) => tok.decode([id]))).toContain("是巴");
    const separately = [...tok.encode("法国的首都是", { addSpecialTokens: false }), ...tok.encode("巴黎", { addSpecialTokens: false })];
    expect(separately).not.toEqual(whole); // the old concatenation: a segmentation the model never sees

    const p = buildCausalPrompt(tok, { template: "[X]的首都是[Y]。", subject: "法国", object: "巴黎", language: "zh" });
    expect([...p.inputIds, ...p.targetIds]).toEqual(whole);
    expect(p.promptTail).toBe("是");
    expect(p.text).toBe("法国的首都");
    expect(p.objectText).toBe("是巴黎");
    expect(tok.decode([p.targetIds[0]])).toBe("是巴");
    // the answer rule compares with what the object pieces spell, the merged 是 included
    const pieces = (text: string) => tok.encode(text, { addSpecialTokens: false });
    expect(answersObject(tok, "zh", pieces("是巴黎"), p.targetIds)).toBe(true);
    expect(answersObject(tok, "zh", pieces("巴黎"), p.targetIds)).toBe(false);

    // a prompt that merges with the object into its first token leaves nothing to read
    expect(() => buildCausalPrompt(tok, { template: "[X][Y]。", subject: "是", object: "巴黎", language: "zh" })).toThrow(/share their first token/);
  });
});
