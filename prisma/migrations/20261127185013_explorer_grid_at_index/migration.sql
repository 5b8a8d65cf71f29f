-- AlterTable
ALTER TABLE "run_grid" ADD COLUMN     "from_index" BOOLEAN NOT NULL DEFAULT false;

-- A run's grid goes with the run: deleting runs deletes their grids, truncating runs truncates the
-- grids (run ids are never reused, so a left-over grid was harmless but never freed).
CREATE OR REPLACE FUNCTION "delete_neuron_rows_of_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM neuron_score s USING old_runs o WHERE s.run_id = o.id AND s.checkpoint_id = o.checkpoint_id;
  DELETE FROM knowledge_neuron k USING old_runs o WHERE k.run_id = o.id AND k.checkpoint_id = o.checkpoint_id;
  DELETE FROM run_grid g USING old_runs o WHERE g.run_id = o.id AND g.checkpoint_id = o.checkpoint_id;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "truncate_neuron_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM neuron_score) THEN TRUNCATE neuron_score; END IF;
  IF EXISTS (SELECT 1 FROM knowledge_neuron) THEN TRUNCATE knowledge_neuron; END IF;
  IF EXISTS (SELECT 1 FROM run_grid) THEN TRUNCATE run_grid; END IF;
  RETURN NULL;
END $$;

-- Grids that no run owns any more (runs deleted before this migration, or cleared checkpoints).
DELETE FROM run_grid g WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = g.run_id AND r.checkpoint_id = g.checkpoint_id);
