// The one import of TensorFlow.js for the model code: tfjs-core plus the gradients it lacks in Node.
import * as tf from "@tensorflow/tfjs-core";
import { registerModelGradients } from "./gradients.ts";

registerModelGradients();

export * from "@tensorflow/tfjs-core";
export default tf;
