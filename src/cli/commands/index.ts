import type { Command } from "commander";
import * as attribute from "./attribute.ts";
import * as backends from "./backends.ts";
import * as calibrateTau from "./calibrate-tau.ts";
import * as db from "./db.ts";
import * as evalCmd from "./eval.ts";
import * as evaluate from "./evaluate.ts";
import * as exportCmd from "./export.ts";
import * as importCmd from "./import.ts";
import * as indexer from "./indexer.ts";
import * as model from "./model.ts";
import * as predict from "./predict.ts";
import * as serve from "./serve.ts";
import * as start from "./start.ts";
import * as trainDemo from "./train-demo.ts";

export interface CommandModule {
  register(program: Command): void;
}

// One line per command module; keep alphabetical.
export const commandModules: CommandModule[] = [attribute, backends, calibrateTau, db, evalCmd, evaluate, exportCmd, importCmd, indexer, model, predict, serve, start, trainDemo];
