// The demo models' training corpus, generated from the seed facts × templates × languages:
//   * the seed template of each fact, built with the same prompt builders as `kn eval` and the
//     attribution engine (src/attribution/prompts.ts): the exact evaluation input;
//   * paraphrase templates (src/train/paraphrases.ts), so the fact is stored, not a string; the
//     held-out paraphrases are never used here, nor for the tokenizer's vocabulary;
//   * for the masked LM, masked-entity variety: the subject masked instead of the object, and
//     BERT-style random masking (80% [MASK], 10% random token, 10% unchanged) of whole sentences;
//   * distractor sentences that name entities without any relation between them;
//   * alias sentences joining one entity's labels in several languages (cross-lingual anchors).
// Each epoch draws a fresh sample with a seeded generator; the same seed gives the same corpus.
import {
  buildCausalSentence,
  buildMaskedPrompt,
  causalObjectText,
  templatePrefix,
  templateSuffix,
  type LmKind,
  type MaskedPromptTokenizer,
} from "../attribution/prompts.ts";
import { fillSlot, fillTemplate } from "../data/templates.ts";
import { ALIAS_END, ALIAS_SEPARATOR, DISTRACTORS, PARAPHRASES } from "./paraphrases.ts";
import type { Rng } from "./rng.ts";
import type { SeedFact, SeedSet } from "./seeds.ts";

/** One training sequence: predict targets[i] at positions[i] (causal: position i predicts token i+1). */
export interface Example {
  ids: number[];
  positions: number[];
  targets: number[];
  weights: number[];
  /** Seed-template object examples: the fact's index and which rows are its object pieces. */
  fact?: number;
  objectRows?: number[];
}

export interface CorpusTokenizer extends MaskedPromptTokenizer {
  readonly eosId: number | undefined;
  tokenToId(token: string): number | undefined;
}

export interface MixOptions {
  /** Copies of each fact's seed-template example per epoch. */
  mainRepeats: number;
  /** Probability of a paraphrase example per fact per epoch. */
  paraphrase: number;
  /** Masked LM: probability of a subject-masked or randomly masked example per fact per epoch. */
  auxiliary: number;
  /** Distractor sentences per epoch, as a fraction of the number of facts. */
  distractors: number;
  /** Alias sentences per epoch, as a fraction of the number of facts. */
  aliases: number;
  /** Causal LM: share of non-object positions that also carry a loss, and their weight. */
  contextShare: number;
  contextWeight: number;
}

export const DEFAULT_MIX: MixOptions = {
  mainRepeats: 1,
  paraphrase: 0.3,
  auxiliary: 0.2,
  distractors: 0.05,
  aliases: 0.1,
  contextShare: 0.1,
  contextWeight: 0.3,
};

/** Templates a fact is trained with: the seed template first, then its (not held-out) paraphrases. */
export function factTemplates(fact: SeedFact): string[] {
  return [fact.template, ...(PARAPHRASES[fact.relation]?.[fact.language] ?? [])];
}

/** Entity labels by Wikidata id and language (subjects and objects of the seeds). */
export function entityLabels(seeds: SeedSet): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const put = (uri: string, lang: string, label: string) => {
    let m = out.get(uri);
    if (!m) out.set(uri, (m = new Map()));
    if (!m.has(lang)) m.set(lang, label);
  };
  for (const f of seeds.facts) {
    put(f.subUri, f.language, f.subject);
    put(f.objUri, f.language, f.object);
  }
  return out;
}

/**
 * Texts for learning the vocabulary, as they will be encoded: masked LM full sentences;
 * causal LM the prompt, the object (with its leading space) and the suffix separately.
 */
export function tokenizerTexts(seeds: SeedSet, kind: LmKind): string[] {
  const texts: string[] = [];
  for (const f of seeds.facts) {
    for (const t of factTemplates(f)) {
      if (kind === "masked") texts.push(fillTemplate(t, f.subject, f.object));
      else texts.push(templatePrefix(t, f.subject), causalObjectText(f.object, f.language, t), templateSuffix(t));
    }
  }
  // every label once more inside a distractor frame, and the alias separators
  const byLang = new Map<string, string[]>();
  for (const [, labels] of entityLabels(seeds)) {
    for (const [lang, label] of labels) {
      let list = byLang.get(lang);
      if (!list) byLang.set(lang, (list = []));
      list.push(label);
    }
  }
  for (const [lang, labels] of byLang) {
    const frames = DISTRACTORS[lang] ?? DISTRACTORS.en;
    labels.forEach((label, i) => {
      const frame = frames[i % frames.length];
      texts.push(fillSlot(fillSlot(frame, "[A]", label), "[B]", labels[(i + 1) % labels.length]));
    });
  }
  texts.push(`a${ALIAS_SEPARATOR}b${ALIAS_END}`);
  return texts;
}

interface CachedFact {
  index: number;
  fact: SeedFact;
  templates: string[];
  /** Masked: object-masked prompt ids/positions per template. Causal: full sequence per template. */
  sequences: { ids: number[]; objectStart: number; objectLength: number }[];
  /** Masked: full-sentence ids per template (for random masking), and subject pieces. */
  full: number[][];
  subjectPieces: number[];
}

/** Builds per-epoch training examples for one kind of model. */
export class CorpusSampler {
  private readonly cached: CachedFact[];
  private readonly labelsByLanguage = new Map<string, string[]>();
  private readonly aliasEntities: Map<string, string>[];
  private readonly specialIds: Set<number>;
  private readonly vocabSize: number;

  constructor(
    readonly kind: LmKind,
    readonly seeds: SeedSet,
    private readonly tok: CorpusTokenizer,
    vocabSize: number,
    private readonly mix: MixOptions = DEFAULT_MIX,
  ) {
    this.vocabSize = vocabSize;
    this.specialIds = new Set(
      ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>"].map((t) => tok.tokenToId(t)).filter((x): x is number => x !== undefined),
    );
    this.cached = seeds.facts.map((fact, i) => this.cacheFact(fact, i));
    const labels = entityLabels(seeds);
    for (const [, m] of labels) {
      for (const [lang, label] of m) {
        let list = this.labelsByLanguage.get(lang);
        if (!list) this.labelsByLanguage.set(lang, (list = []));
        list.push(label);
      }
    }
    this.aliasEntities = [...labels.values()].filter((m) => m.size >= 2);
  }

  private cacheFact(fact: SeedFact, index: number): CachedFact {
    const templates = factTemplates(fact);
    const sequences: CachedFact["sequences"] = [];
    const full: number[][] = [];
    for (const template of templates) {
      const pf = { template, subject: fact.subject, object: fact.object, language: fact.language };
      if (this.kind === "masked") {
        const p = buildMaskedPrompt(this.tok, pf);
        if (p.targetPositions.some((pos, k) => pos !== p.targetPositions[0] + k)) throw new Error(`non-contiguous mask tokens in ${JSON.stringify(p.text)}`);
        sequences.push({ ids: p.inputIds, objectStart: p.targetPositions[0], objectLength: p.targetIds.length });
        full.push(this.tok.encode(fillTemplate(template, fact.subject, fact.object), { addSpecialTokens: true }));
      } else {
        const p = buildCausalSentence(this.tok, pf);
        const suffix = this.tok.encode(templateSuffix(template), { addSpecialTokens: false });
        const ids = [...p.inputIds, ...p.targetIds, ...suffix, this.eos()];
        sequences.push({ ids, objectStart: p.inputIds.length, objectLength: p.targetIds.length });
        full.push(ids);
      }
    }
    const subjectPieces = this.tok.encode(fact.subject, { addSpecialTokens: false });
    return { index, fact, templates, sequences, full, subjectPieces };
  }

  private eos(): number {
    if (this.tok.eosId === undefined) throw new Error("the causal tokenizer has no end-of-text token");
    return this.tok.eosId;
  }

  /** The seed-template examples of every fact, for measuring accuracy during training. */
  evalExamples(): { example: Example; fact: SeedFact }[] {
    return this.cached.map((c) => ({ example: this.objectExample(c, 0, null), fact: c.fact }));
  }

  /** Object prediction on template `j`; for causal LMs context positions are sampled with `rng`. */
  private objectExample(c: CachedFact, j: number, rng: Rng | null): Example {
    const s = c.sequences[j];
    const positions: number[] = [];
    const targets: number[] = [];
    const weights: number[] = [];
    const objectRows: number[] = [];
    if (this.kind === "masked") {
      const pieces = this.objectPieces(c);
      for (let k = 0; k < s.objectLength; k++) {
        objectRows.push(positions.length);
        positions.push(s.objectStart + k);
        targets.push(pieces[k]);
        weights.push(1);
      }
    } else {
      for (let i = 0; i + 1 < s.ids.length; i++) {
        const isObject = i + 1 >= s.objectStart && i + 1 < s.objectStart + s.objectLength;
        if (isObject) objectRows.push(positions.length);
        if (isObject || (rng && rng.next() < this.mix.contextShare)) {
          positions.push(i);
          targets.push(s.ids[i + 1]);
          weights.push(isObject ? 1 : this.mix.contextWeight);
        }
      }
    }
    return j === 0 ? { ids: s.ids, positions, targets, weights, fact: c.index, objectRows } : { ids: s.ids, positions, targets, weights };
  }

  private objectPieceCache = new Map<string, number[]>();
  private objectPieces(c: CachedFact): number[] {
    const key = c.fact.object;
    let ids = this.objectPieceCache.get(key);
    if (!ids) {
      ids = this.tok.encode(c.fact.object, { addSpecialTokens: false });
      this.objectPieceCache.set(key, ids);
    }
    return ids;
  }

  /** Masked LM: the subject replaced by mask tokens, object given. */
  private subjectExample(c: CachedFact, j: number): Example | null {
    const maskToken = this.tok.maskToken!;
    const k = c.subjectPieces.length;
    const masks = Array.from({ length: k }, () => maskToken).join(" ");
    const text = fillTemplate(c.templates[j], masks, c.fact.object);
    const ids = this.tok.encode(text, { addSpecialTokens: true });
    const positions: number[] = [];
    ids.forEach((id, i) => id === this.tok.maskId && positions.push(i));
    if (positions.length !== k) return null;
    return { ids, positions, targets: c.subjectPieces, weights: positions.map(() => 0.5) };
  }

  /** Masked LM: BERT-style random masking of 15% of the non-special tokens (at least one). */
  private randomMasked(ids: number[], rng: Rng, weight: number): Example {
    const candidates = ids.map((id, i) => (this.specialIds.has(id) ? -1 : i)).filter((i) => i >= 0);
    const count = Math.max(1, Math.round(candidates.length * 0.15));
    rng.shuffle(candidates);
    const chosen = candidates.slice(0, count).sort((a, b) => a - b);
    const out = [...ids];
    for (const i of chosen) {
      const r = rng.next();
      if (r < 0.8) out[i] = this.tok.maskId!;
      else if (r < 0.9) out[i] = this.randomToken(rng);
    }
    return { ids: out, positions: chosen, targets: chosen.map((i) => ids[i]), weights: chosen.map(() => weight) };
  }

  private randomToken(rng: Rng): number {
    for (;;) {
      const id = rng.int(this.vocabSize);
      if (!this.specialIds.has(id)) return id;
    }
  }

  /** Causal LM: a plain sentence, loss on a sampled share of its positions. */
  private causalSentence(text: string, rng: Rng): Example {
    const ids = [...this.tok.encode(text, { addSpecialTokens: false }), this.eos()];
    const positions: number[] = [];
    for (let i = 0; i + 1 < ids.length; i++) if (rng.next() < Math.max(this.mix.contextShare, 0.5)) positions.push(i);
    if (positions.length === 0) positions.push(ids.length - 2);
    return { ids, positions, targets: positions.map((i) => ids[i + 1]), weights: positions.map(() => this.mix.contextWeight) };
  }

  private distractorText(rng: Rng): string {
    const langs = this.seeds.languages;
    const lang = rng.pick(langs);
    const labels = this.labelsByLanguage.get(lang) ?? [];
    const frames = DISTRACTORS[lang] ?? DISTRACTORS.en;
    return fillSlot(fillSlot(rng.pick(frames), "[A]", rng.pick(labels)), "[B]", rng.pick(labels));
  }

  private aliasLabels(rng: Rng): string[] {
    const entity = rng.pick(this.aliasEntities);
    const labels = rng.shuffle([...entity.values()]);
    return labels.slice(0, 2 + rng.int(Math.min(2, labels.length - 1)));
  }

  /**
   * One epoch of examples, shuffled. `focus[i]` (default 1) scales how often fact i is shown:
   * the trainer lowers it for facts the model already gets right with confidence, so later
   * epochs spend their compute on the facts still missing (each fact keeps a floor).
   */
  epoch(rng: Rng, focus?: Float32Array): Example[] {
    const out: Example[] = [];
    const m = this.mix;
    this.cached.forEach((c, i) => {
      const w = focus ? focus[i] : 1;
      for (let r = 0; r < m.mainRepeats; r++) {
        const copies = Math.floor(w) + (rng.next() < w - Math.floor(w) ? 1 : 0);
        for (let k = 0; k < copies; k++) out.push(this.objectExample(c, 0, rng));
      }
      const paraCount = c.templates.length - 1;
      if (paraCount > 0 && rng.next() < m.paraphrase * Math.min(1, w)) out.push(this.objectExample(c, 1 + rng.int(paraCount), rng));
      if (this.kind === "masked" && rng.next() < m.auxiliary * Math.min(1, w)) {
        const j = rng.int(c.templates.length);
        const ex = rng.next() < 0.5 ? this.subjectExample(c, j) : null;
        out.push(ex ?? this.randomMasked(c.full[j], rng, 0.5));
      }
    });
    const n = this.cached.length;
    for (let i = 0; i < Math.round(n * m.distractors); i++) {
      const text = this.distractorText(rng);
      out.push(this.kind === "masked" ? this.randomMasked(this.tok.encode(text, { addSpecialTokens: true }), rng, 0.5) : this.causalSentence(text, rng));
    }
    const aliasCount = this.aliasEntities.length ? Math.round(n * m.aliases) : 0;
    for (let i = 0; i < aliasCount; i++) {
      const labels = this.aliasLabels(rng);
      const text = labels.join(ALIAS_SEPARATOR) + ALIAS_END;
      if (this.kind === "causal") {
        out.push(this.causalSentence(text, rng));
        continue;
      }
      // mask every piece of one label: "Paris = [MASK] [MASK] = Париж ."
      const hidden = rng.int(labels.length);
      const pieces = this.tok.encode(labels[hidden], { addSpecialTokens: false });
      const maskToken = this.tok.maskToken!;
      const masked = labels.map((l, i) => (i === hidden ? pieces.map(() => maskToken).join(" ") : l)).join(ALIAS_SEPARATOR) + ALIAS_END;
      const ids = this.tok.encode(masked, { addSpecialTokens: true });
      const positions: number[] = [];
      ids.forEach((id, i) => id === this.tok.maskId && positions.push(i));
      if (positions.length === pieces.length) out.push({ ids, positions, targets: pieces, weights: positions.map(() => 0.5) });
    }
    return rng.shuffle(out);
  }
}

/**
 * Groups examples into batches of similar length (less padding): sorted within windows of
 * `window` batches, then the batch order shuffled.
 */
export function makeBatches(examples: Example[], batchSize: number, rng: Rng, window = 32): Example[][] {
  const batches: Example[][] = [];
  const span = batchSize * window;
  for (let start = 0; start < examples.length; start += span) {
    const chunk = examples.slice(start, start + span).sort((a, b) => a.ids.length - b.ids.length);
    for (let i = 0; i < chunk.length; i += batchSize) batches.push(chunk.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}
