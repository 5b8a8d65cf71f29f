-- degenerate_set refers to its run like neuron_score and knowledge_neuron: a statement-level check
-- planned at each statement instead of a row-by-row foreign key (issue 13: the 100 M fill slowed
-- from ~400 000 to ~40 000 neuron rows/s half-way). A foreign key's check is one cached plan per
-- connection and partition, made by the connection's first inserts there; a writer whose first
-- degenerate sets of a checkpoint went in while its partition was nearly empty kept probing
-- attribution_run by its (checkpoint_id, setting_id, relation_key, ...) index, whose only
-- condition there is the checkpoint, so every set of every later batch read the whole partition
-- (27 000 probes read 730 M index entries). Deleting runs deletes their sets (members go with their
-- set by its foreign key, which probes degenerate_set's primary key, the only index that fits);
-- truncating runs truncates both tables.

ALTER TABLE "degenerate_set" DROP CONSTRAINT "degenerate_set_run_id_checkpoint_id_fkey";

-- One check for every table whose rows name their run by (run_id, checkpoint_id): neuron_score's
-- (check_scores_have_runs, the same query) and degenerate_set's; the message names the table.
CREATE FUNCTION "check_rows_have_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing boolean;
BEGIN
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id, checkpoint_id FROM new_rows) n
             WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = n.run_id AND r.checkpoint_id = n.checkpoint_id))'
    INTO missing;
  IF missing THEN
    RAISE EXCEPTION 'insert or update on table "%" names a run that is not in attribution_run', TG_TABLE_NAME
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER "neuron_score_run_insert" ON "neuron_score";
DROP TRIGGER "neuron_score_run_update" ON "neuron_score";
DROP FUNCTION "check_scores_have_runs"();
CREATE TRIGGER "neuron_score_run_insert" AFTER INSERT ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_rows_have_runs"();
CREATE TRIGGER "neuron_score_run_update" AFTER UPDATE ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_rows_have_runs"();
CREATE TRIGGER "degenerate_set_run_insert" AFTER INSERT ON "degenerate_set"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_rows_have_runs"();
CREATE TRIGGER "degenerate_set_run_update" AFTER UPDATE ON "degenerate_set"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_rows_have_runs"();

-- The deletes are planned at each statement too, for the same reason.
CREATE OR REPLACE FUNCTION "delete_neuron_rows_of_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'DELETE FROM neuron_score s USING old_runs o WHERE s.run_id = o.id AND s.checkpoint_id = o.checkpoint_id';
  EXECUTE 'DELETE FROM knowledge_neuron k USING old_runs o WHERE k.run_id = o.id AND k.checkpoint_id = o.checkpoint_id';
  EXECUTE 'DELETE FROM run_grid g USING old_runs o WHERE g.run_id = o.id AND g.checkpoint_id = o.checkpoint_id';
  EXECUTE 'DELETE FROM degenerate_set d USING old_runs o WHERE d.run_id = o.id AND d.checkpoint_id = o.checkpoint_id';
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "truncate_neuron_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM neuron_score) THEN TRUNCATE neuron_score; END IF;
  IF EXISTS (SELECT 1 FROM knowledge_neuron) THEN TRUNCATE knowledge_neuron; END IF;
  IF EXISTS (SELECT 1 FROM run_grid) THEN TRUNCATE run_grid; END IF;
  IF EXISTS (SELECT 1 FROM degenerate_set) OR EXISTS (SELECT 1 FROM degenerate_member) THEN TRUNCATE degenerate_set, degenerate_member; END IF;
  RETURN NULL;
END $$;
