/**
 * Why a model could not be loaded or used. `code` lets callers (CLI, API) react without parsing
 * the message; the message itself is written for the person at the terminal.
 */
export type ModelErrorCode =
  | "missing-file"
  | "missing-tensor"
  | "bad-tensor"
  | "unsupported-model"
  | "unsupported-dtype"
  | "pytorch-only"
  | "bad-safetensors"
  | "bad-config"
  | "bad-tokenizer"
  | "backend-unavailable"
  | "device-lost"
  | "bad-input";

export class ModelError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ModelError";
  }
}
