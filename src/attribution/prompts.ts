// Prompt building for knowledge probing, "clean" mode of ALGORITHMS.md §2.4–2.6. Pure functions:
// the demo-model trainer, `kn eval` and the attribution engine all build their inputs here, so
// what is trained is what is evaluated is what is attributed.
//
// Masked LM: the template with [X] = subject and [Y] = k mask tokens for a k-piece object, where
// the pieces are the tokenizer's encoding of the object label without special tokens. The
// target positions are the k mask positions (in order). Any position of [Y] works.
// Causal LM: the template cut at [Y] (text before [Y], trailing whitespace trimmed) with [X] =
// subject; a template whose [Y] is not final is refused (policy: README "Templates whose object
// slot is not final"). The object follows with a leading space where the template puts
// whitespace before [Y] in a language written with spaces (not after an elided "d'", not in zh,
// ja, th). Prompt and object are tokenized as ONE string and split at the prompt boundary, so
// the object pieces are the ones the model sees in the sentence. Greedy continuation of
// len(object pieces) tokens, decoded and trimmed, must equal the object text.
import { UNSPACED_LANGUAGES } from "../data/languages.ts";
import { OBJECT_SLOT, SUBJECT_SLOT, causalTemplateProblem, fillSlot, fillTemplate, slotOrderProblem, spaceBeforeObject } from "../data/templates.ts";

export type LmKind = "masked" | "causal";

/** The part of a tokenizer the prompt builders need (src/model's TextTokenizer satisfies it). */
export interface PromptTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean }): string;
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
  /**
   * The prompt text the model reads: the template before [Y], subject filled in, trailing
   * whitespace trimmed; shorter by `promptTail` when the boundary falls inside a token.
   */
  text: string;
  /** Token ids of the prompt (no special tokens): the target position is the last one. */
  inputIds: number[];
  /** Gold object pieces, in generation order: the whole string's tokens after the prompt. */
  targetIds: number[];
  /** What targetIds spell: promptTail + the object (with its leading space where one applies). */
  objectText: string;
  /**
   * End of the prompt text that shares a token with the object in the whole string's
   * tokenization, and so belongs to the first target piece ("" almost always).
   */
  promptTail: string;
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

/**
 * The object as a causal model continues a prompt with it: " Paris" (en), "巴黎" (zh),
 * "Italie" after the French "d'[Y]". Without a template, a spaced language gets the space.
 */
export function causalObjectText(object: string, language: string, template?: string): string {
  const spaced = isSpacedLanguage(language) && (template === undefined || spaceBeforeObject(template));
  return spaced ? ` ${object}` : object;
}

/**
 * Object pieces for the given kind of model (no special tokens), the object encoded on its own.
 * Causal prompts take their pieces from the whole sentence instead (buildCausalPrompt).
 */
export function objectPieces(tokenizer: PromptTokenizer, object: string, language: string, kind: LmKind, template?: string): number[] {
  const text = kind === "causal" ? causalObjectText(object, language, template) : object;
  return tokenizer.encode(text, { addSpecialTokens: false });
}

/** The templates a model of this kind can use, in their order (causal: [Y] final, [X] before it). */
export function usableTemplates(templates: readonly string[], kind: LmKind): string[] {
  return kind === "masked" ? [...templates] : templates.filter((t) => causalTemplateProblem(t) === null);
}

/** Template text with [X] filled and k mask tokens in [Y] (space-separated where words are). */
export function maskedPromptText(template: string, subject: string, maskToken: string, k: number, language: string): string {
  if (k < 1) throw new PromptError("an object needs at least one mask token");
  const masks = Array.from({ length: k }, () => maskToken).join(isSpacedLanguage(language) ? " " : "");
  return fillTemplate(template, subject, masks);
}

/**
 * Causal prompt text: the template cut at [Y], trailing whitespace trimmed, [X] filled. A
 * template whose [Y] is not final is refused: its prefix would no longer state the relation.
 */
export function causalPromptText(template: string, subject: string): string {
  const problem = causalTemplateProblem(template);
  if (problem) throw new PromptError(problem);
  return templatePrefix(template, subject);
}

/**
 * The sentence up to [Y] (trimmed, [X] filled) wherever [Y] sits: the context of the object in a
 * language-model training sequence, which goes on with the rest of the sentence. Not a probe.
 */
export function templatePrefix(template: string, subject: string): string {
  const problem = slotOrderProblem(template);
  if (problem) throw new PromptError(problem);
  return fillSlot(template.slice(0, template.indexOf(OBJECT_SLOT)).trimEnd(), SUBJECT_SLOT, subject);
}

/** Text that follows the object in the full sentence (" ." or "。"), for training sequences. */
export function templateSuffix(template: string): string {
  const at = template.indexOf(OBJECT_SLOT);
  return at < 0 ? "" : template.slice(at + OBJECT_SLOT.length);
}

/**
 * Teacher forcing on the tokenization of the whole string prompt + object, split at the prompt
 * boundary. Encoding the object on its own and appending it would give a segmentation the model
 * never sees where BPE merges across the boundary (zh, whose characters form one pre-token).
 * When the prompt's own tokens are a prefix of the whole string's, they are the input and the
 * rest are the object pieces. Otherwise the boundary falls inside a token: the input is the
 * longest run of the whole string's tokens that spells a prefix of the prompt, and the token
 * that straddles the boundary is the first object piece (it carries `promptTail`, the end of the
 * prompt). A prompt that merges with the object into its very first token is refused.
 */
export function splitAtPromptBoundary(
  tokenizer: PromptTokenizer,
  promptText: string,
  objectText: string,
): { inputIds: number[]; targetIds: number[]; promptTail: string } {
  const noSpecials = { addSpecialTokens: false };
  const whole = tokenizer.encode(promptText + objectText, noSpecials);
  const prompt = tokenizer.encode(promptText, noSpecials);
  if (prompt.length > 0 && prompt.length < whole.length && prompt.every((id, i) => whole[i] === id)) {
    return { inputIds: prompt, targetIds: whole.slice(prompt.length), promptTail: "" };
  }
  let cut = 0;
  let covered = "";
  for (let j = 1; j < whole.length; j++) {
    const text = tokenizer.decode(whole.slice(0, j), { skipSpecialTokens: false, cleanUpSpaces: false });
    if (text.length <= promptText.length && promptText.startsWith(text)) {
      cut = j;
      covered = text;
    }
  }
  if (cut === 0 || covered === "") {
    throw new PromptError(`prompt ${JSON.stringify(promptText)} and object ${JSON.stringify(objectText)} share their first token; no prompt position is left to read`);
  }
  return { inputIds: whole.slice(0, cut), targetIds: whole.slice(cut), promptTail: promptText.slice(covered.length) };
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

/** The causal probe of a fact: the policy on [Y]'s position, then buildCausalSentence. */
export function buildCausalPrompt(tokenizer: PromptTokenizer, fact: PromptFact): CausalPrompt {
  const problem = causalTemplateProblem(fact.template);
  if (problem) throw new PromptError(problem);
  return buildCausalSentence(tokenizer, fact);
}

/**
 * Context and object pieces of a sentence, [Y] anywhere after [X]: for training sequences (the
 * template's suffix follows the object there); probes go through buildCausalPrompt.
 */
export function buildCausalSentence(tokenizer: PromptTokenizer, fact: PromptFact): CausalPrompt {
  const fullPrompt = templatePrefix(fact.template, fact.subject);
  if (tokenizer.encode(fullPrompt, { addSpecialTokens: false }).length === 0) throw new PromptError(`prompt ${JSON.stringify(fullPrompt)} encodes to no tokens`);
  const object = causalObjectText(fact.object, fact.language, fact.template);
  if (tokenizer.encode(object, { addSpecialTokens: false }).length === 0) throw new PromptError(`object ${JSON.stringify(fact.object)} encodes to no tokens`);
  const { inputIds, targetIds, promptTail } = splitAtPromptBoundary(tokenizer, fullPrompt, object);
  const text = fullPrompt.slice(0, fullPrompt.length - promptTail.length);
  return { kind: "causal", text, inputIds, targetIds, objectText: promptTail + object, promptTail };
}

export function buildPrompt(tokenizer: MaskedPromptTokenizer, fact: PromptFact, kind: LmKind): Prompt {
  return kind === "masked" ? buildMaskedPrompt(tokenizer, fact) : buildCausalPrompt(tokenizer, fact);
}
