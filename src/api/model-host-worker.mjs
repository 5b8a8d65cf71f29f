// Entry of the model host's worker thread: registers tsx's TypeScript loader in this thread
// (loader flags given to a Worker through execArgv do not reach Node 20's module hooks), then
// loads the TypeScript worker. Plain JavaScript so it starts without any loader.
import { register } from "tsx/esm/api";

register();
await import("./model-host-worker.ts");
