// mLAMA templates: one [X] (subject) and one [Y] (object) slot. Pure string rules shared by the
// importer (which counts templates by them), the prompt builders and the demo-model corpus.

export const SUBJECT_SLOT = "[X]";
export const OBJECT_SLOT = "[Y]";

/**
 * Replaces the first occurrence of `slot` by `value` literally. String.prototype.replace with a
 * string would expand `$&`, `$1`, `$$`, … inside labels (a subject "$&" would become "[X]").
 */
export function fillSlot(text: string, slot: string, value: string): string {
  const at = text.indexOf(slot);
  return at < 0 ? text : text.slice(0, at) + value + text.slice(at + slot.length);
}

/** The template with [X] = subject and [Y] = object (default: the literal "[MASK]", §2.3). */
export function fillTemplate(template: string, subject: string, object = "[MASK]"): string {
  return fillSlot(fillSlot(template, SUBJECT_SLOT, subject), OBJECT_SLOT, object);
}

/** Whether [Y] closes the template (only punctuation and spaces after it). */
export function objectSlotIsFinal(template: string): boolean {
  const at = template.indexOf(OBJECT_SLOT);
  if (at < 0) return false;
  return /^[\s\p{P}]*$/u.test(template.slice(at + OBJECT_SLOT.length));
}

/**
 * Why a causal LM cannot read this template left to right up to the object, or null when it
 * can: the object must close the template (policy in README "Templates whose object slot is not
 * final") and the subject must come before it.
 */
export function causalTemplateProblem(template: string): string | null {
  const order = slotOrderProblem(template);
  if (order) return order;
  if (!objectSlotIsFinal(template)) return `the object slot ${OBJECT_SLOT} is not final in ${JSON.stringify(template)}: causal models skip such templates`;
  return null;
}

/** Why the text before [Y] cannot be a left-to-right context (no [Y], or [X] not before it), or null. */
export function slotOrderProblem(template: string): string | null {
  const y = template.indexOf(OBJECT_SLOT);
  if (y < 0) return `template has no ${OBJECT_SLOT}: ${JSON.stringify(template)}`;
  const x = template.indexOf(SUBJECT_SLOT);
  if (x < 0 || x > y) return `the subject ${SUBJECT_SLOT} must come before ${OBJECT_SLOT} for a causal prompt: ${JSON.stringify(template)}`;
  return null;
}

/**
 * Whether the template separates the object from the preceding text by whitespace. Elided
 * articles and prepositions attach the object directly (French "d'[Y]", "l'[Y]", Italian
 * "dell'[Y]"), and so does any template that writes [Y] right after a character.
 */
export function spaceBeforeObject(template: string): boolean {
  const at = template.indexOf(OBJECT_SLOT);
  return at > 0 && /\s/u.test(template[at - 1]);
}
