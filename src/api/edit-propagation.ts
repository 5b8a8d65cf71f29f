// Keeps this API replica's live models in step with the edits applied or reverted through any
// replica: each committed change (NOTIFY kn_edit) reconciles that checkpoint's loaded model with
// the database, and every (re)connection of the listener reconciles all loaded models, because
// notifications sent while it was disconnected are lost.
import { type EditListener, listenForEditChanges } from "../store/edit-events.ts";
import type { LiveModels } from "./live-models.ts";

export function startEditPropagation(databaseUrl: string, live: LiveModels, options: { connectTimeoutMs?: number; log?: (line: string) => void } = {}): EditListener {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const reconcile = (checkpointId: number) =>
    live.reconcile(checkpointId).then(
      ({ applied, removed }) => {
        if (applied.length || removed.length) {
          log(`checkpoint ${checkpointId}: edits ${[...applied.map((id) => `+${id}`), ...removed.map((id) => `-${id}`)].join(" ")} taken from the database`);
        }
      },
      (error: Error) => log(`checkpoint ${checkpointId}: reconciling its edits failed: ${error.message}`),
    );
  return listenForEditChanges(
    databaseUrl,
    {
      onChange: (change) => void reconcile(change.checkpointId),
      onResync: () => {
        for (const id of live.loadedCheckpoints()) void reconcile(id);
      },
      log,
    },
    { connectTimeoutMs: options.connectTimeoutMs },
  );
}
