import { type LanguageModel, ModelError, loadModel } from "../model/index.ts";
import { CliError } from "./errors.ts";

/** Loads a model for a command; loader problems (missing files, bad config) become CLI errors. */
export async function loadModelForCli(model: string, backend?: string, rowBudget?: number): Promise<LanguageModel> {
  try {
    return await loadModel(model, { backend, rowBudget });
  } catch (err) {
    if (err instanceof ModelError) throw new CliError(err.message);
    throw err;
  }
}
