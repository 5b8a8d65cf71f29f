// Runs the real `kn` entry point (src/cli/main.ts) with `predict` registered even when
// src/cli/commands/index.ts does not list it yet. Usage: tsx test/helpers/model-cli.ts predict ...
import { commandModules } from "../../src/cli/commands/index.ts";
import * as predict from "../../src/cli/commands/predict.ts";

if (!commandModules.some((m) => m.register === predict.register)) commandModules.push(predict);
await import("../../src/cli/main.ts");
