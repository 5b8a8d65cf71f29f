// Public surface of the model runtime. The attribution engine depends on LanguageModel only.
export type {
  Architecture, LanguageModel, ModelInfo, Neuron, NeuronScale, PatchedGradient, ProbabilityOptions, ProbabilityRequest,
  PromptContext,
} from "./language-model.ts";
export type { TextTokenizer, EncodeOptions } from "./tokenizer.ts";
export { neuronKey } from "./language-model.ts";
export { loadModel, type LoadOptions } from "./load.ts";
export { resolveModelDir, registerModelResolver, PROJECT_ROOT, type ModelResolver } from "./resolve.ts";
export { useBackend, parseBackendName, defaultBackendName, BACKENDS, TENSORFLOW_INSTALL_HINT, type BackendName } from "./backend.ts";
export { ModelError, type ModelErrorCode } from "./errors.ts";
export { openCheckpoint, PYTORCH_CONVERSION_HINT, type Checkpoint } from "./checkpoint.ts";
export { parseConfig, readConfig, type ModelConfig, type BertConfig, type Gpt2Config } from "./config.ts";
