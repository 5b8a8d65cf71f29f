// Keeps this API replica's live models in step with the edits applied or reverted through any
// replica: each committed change (NOTIFY kn_edit) reconciles that checkpoint's loaded model with
// the database, and every (re)connection of the listener reconciles all loaded models, because
// notifications sent while it was disconnected are lost.
import { type EditListener, listenForEditChanges } from "../store/edit-events.ts";
import type { ModelHost } from "./model-host.ts";

export function startEditPropagation(databaseUrl: string, host: Pick<ModelHost, "reconcile" | "loadedCheckpoints">, options: { connectTimeoutMs?: number; log?: (line: string) => void } = {}): EditListener {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const reconcile = (checkpointId: number) =>
    // only a loaded model is reconciled, so the folder is never needed here
    host.reconcile({ id: checkpointId, path: "" }).then(
      ({ applied, reverted }) => {
        if (applied.length || reverted.length) {
          log(`checkpoint ${checkpointId}: edits ${[...applied.map((id) => `+${id}`), ...reverted.map((id) => `-${id}`)].join(" ")} taken from the database`);
        }
      },
      (error: Error) => log(`checkpoint ${checkpointId}: reconciling its edits failed: ${error.message}`),
    );
  return listenForEditChanges(
    databaseUrl,
    {
      onChange: (change) => void reconcile(change.checkpointId),
      onResync: () => {
        host.loadedCheckpoints().then(
          (ids) => ids.forEach((id) => void reconcile(id)),
          (error: Error) => log(`edit notifications: listing the loaded models failed: ${error.message}`),
        );
      },
      log,
    },
    { connectTimeoutMs: options.connectTimeoutMs },
  );
}
