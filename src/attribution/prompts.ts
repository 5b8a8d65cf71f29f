// Prompt building for knowledge probing, "clean" mode of ALGORITHMS.md §2.4–2.6. Pure functions:
// the demo-model trainer, `kn eval` and the attribution engine all build their inputs here, so
// what is trained is what is evaluated is what is attributed.
//
// Masked LM: the template with [X] = subject and [Y] = k mask tokens for a k-piece object, where
// the pieces are the tokenizer's encoding of the object label without special tokens. The
// target positions are the k mask positions (in order).
// Causal LM: the template cut at [Y] (text before [Y], trailing whitespace trimmed) with [X] =
// subject; the object is encoded with a leading space for languages written with spaces (not for
// zh, ja, th). Greedy continuation of len(object pieces) tokens, decoded and trimmed, must equal
// the object label.
import { UNSPACED_LANGUAGES } from "../data/languages.ts";

export type LmKind = "masked" | "causal";

/** The part of a tokenizer the prompt builders need (src/model's TextTokenizer satisfies it). */
export interface PromptTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
}

export interface MaskedPromptTokenizer extends PromptTokenizer {
  readonly maskToken: string | undefined;
  readonly maskId: number | undefined;
}

/** One fact in one language, with the template of its relation. */
export interface PromptFact {
  template: string;
  subject: string;
  object: string;
  language: string;
}

export interface MaskedPrompt {
  kind: "masked";
  /** The prompt text with k mask tokens in the object slot. */
  text: string;
  /** Token ids with special tokens ([CLS] ... [SEP]). */
  inputIds: number[];
  /** Index in inputIds of each mask token, in order (the target positions). */
  targetPositions: number[];
  /** Gold object pieces (one per mask). */
  targetIds: number[];
}

export interface CausalPrompt {
  kind: "causal";
  /** Template text before [Y], subject filled in, trailing whitespace trimmed. */
  text: string;
  /** Token ids of the prompt (no special tokens): the target position is the last one. */
  inputIds: number[];
  /** Gold object pieces, in generation order. */
  targetIds: number[];
  /** The object text whose encoding gives targetIds (with its leading space where one applies). */
  objectText: string;
}

export type Prompt = MaskedPrompt | CausalPrompt;

export class PromptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptError";
  }
}

/** Whether the language separates words with spaces (a causal LM then predicts " object"). */
export function isSpacedLanguage(language: string): boolean {
  return !UNSPACED_LANGUAGES.has(language);
}

/** The object as a causal model continues a prompt with it: " Paris" (en), "巴黎" (zh). */
export function causalObjectText(object: string, language: string): string {
  return isSpacedLanguage(language) ? ` ${object}` : object;
}

/** Object pieces for the given kind of model (no special tokens). */
export function objectPieces(tokenizer: PromptTokenizer, object: string, language: string, kind: LmKind): number[] {
  const text = kind === "causal" ? causalObjectText(object, language) : object;
  return tokenizer.encode(text, { addSpecialTokens: false });
}

/** Whether [Y] closes the template (only punctuation and spaces after it). */
export function objectSlotIsFinal(template: string): boolean {
  const at = template.indexOf("[Y]");
  if (at < 0) return false;
  return /^[\s\p{P}]*$/u.test(template.slice(at + 3));
}

/** Template text with [X] filled and k mask tokens in [Y] (space-separated where words are). */
export function maskedPromptText(template: string, subject: string, maskToken: string, k: number, language: string): string {
  if (k < 1) throw new PromptError("an object needs at least one mask token");
  const masks = Array.from({ length: k }, () => maskToken).join(isSpacedLanguage(language) ? " " : "");
  return template.replace("[X]", subject).replace("[Y]", masks);
}

/**
 * Causal prompt text: the template cut at [Y], trailing whitespace trimmed, [X] filled.
 * A template whose [Y] is not final keeps its prefix only (what follows [Y] is dropped).
 */
export function causalPromptText(template: string, subject: string): string {
  const at = template.indexOf("[Y]");
  if (at < 0) throw new PromptError(`template has no [Y]: ${JSON.stringify(template)}`);
  const prefix = template.slice(0, at).trimEnd();
  if (!prefix.includes("[X]")) throw new PromptError(`the subject [X] must come before [Y] for a causal prompt: ${JSON.stringify(template)}`);
  return prefix.replace("[X]", subject);
}

/** Text that follows the object in the full sentence (" ." or "。"), for training sequences. */
export function templateSuffix(template: string): string {
  const at = template.indexOf("[Y]");
  return at < 0 ? "" : template.slice(at + 3);
}

export function buildMaskedPrompt(tokenizer: MaskedPromptTokenizer, fact: PromptFact): MaskedPrompt {
  const { maskToken, maskId } = tokenizer;
  if (maskToken === undefined || maskId === undefined) throw new PromptError("the tokenizer has no mask token");
  const targetIds = objectPieces(tokenizer, fact.object, fact.language, "masked");
  if (targetIds.length === 0) throw new PromptError(`object ${JSON.stringify(fact.object)} encodes to no tokens`);
  const text = maskedPromptText(fact.template, fact.subject, maskToken, targetIds.length, fact.language);
  const inputIds = tokenizer.encode(text, { addSpecialTokens: true });
  const targetPositions: number[] = [];
  inputIds.forEach((id, i) => id === maskId && targetPositions.push(i));
  if (targetPositions.length !== targetIds.length) {
    throw new PromptError(
      `expected ${targetIds.length} mask token(s) in the encoded prompt ${JSON.stringify(text)}, found ${targetPositions.length}`,
    );
  }
  return { kind: "masked", text, inputIds, targetPositions, targetIds };
}

export function buildCausalPrompt(tokenizer: PromptTokenizer, fact: PromptFact): CausalPrompt {
  const text = causalPromptText(fact.template, fact.subject);
  const inputIds = tokenizer.encode(text, { addSpecialTokens: false });
  if (inputIds.length === 0) throw new PromptError(`prompt ${JSON.stringify(text)} encodes to no tokens`);
  const objectText = causalObjectText(fact.object, fact.language);
  const targetIds = tokenizer.encode(objectText, { addSpecialTokens: false });
  if (targetIds.length === 0) throw new PromptError(`object ${JSON.stringify(fact.object)} encodes to no tokens`);
  return { kind: "causal", text, inputIds, targetIds, objectText };
}

export function buildPrompt(tokenizer: MaskedPromptTokenizer, fact: PromptFact, kind: LmKind): Prompt {
  return kind === "masked" ? buildMaskedPrompt(tokenizer, fact) : buildCausalPrompt(tokenizer, fact);
}

/** Masked LM: top-1 correct when every mask's argmax is its gold piece. */
export function maskedPredictionCorrect(prompt: MaskedPrompt, predictedIds: readonly number[]): boolean {
  return predictedIds.length === prompt.targetIds.length && prompt.targetIds.every((id, i) => predictedIds[i] === id);
}

/** Causal LM: the decoded greedy continuation (len(object pieces) tokens), trimmed, equals the label. */
export function causalContinuationCorrect(decodedContinuation: string, object: string): boolean {
  return decodedContinuation.trim() === object.trim();
}
