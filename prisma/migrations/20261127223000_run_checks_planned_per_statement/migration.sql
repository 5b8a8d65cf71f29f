-- The statement-level run checks of neuron_score and knowledge_neuron (check_scores_have_runs,
-- check_knowledge_neurons_match_runs) are planned at each statement, for the table sizes of the
-- moment (issue 13: the ingest's PostgreSQL CPU per row grew with the number of stored runs).
-- PL/pgSQL plans a static query once per session and keeps the plan until the tables' definitions
-- change (row counts do not count, and a writer's connection lives for the whole ingest). A
-- writer's first batch found the partition of the next checkpoint empty, and the plan it made then
-- probed that partition by its (checkpoint_id, setting_id, ...) index, whose only condition there
-- is the checkpoint: once the partition filled, every run of every later batch read all of it
-- (1.6 M buffer hits, ~1 s per batch of 250 runs at 50 000 runs per checkpoint). EXECUTE plans the
-- same query each time (well under a millisecond), so the run lookup is one attribution_run_pkey
-- probe per distinct (run, checkpoint) whenever that is cheaper than reading the partition.
-- Same checks, same errors (23503).

CREATE OR REPLACE FUNCTION "check_scores_have_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing boolean;
BEGIN
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id, checkpoint_id FROM new_rows) n
             WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = n.run_id AND r.checkpoint_id = n.checkpoint_id))'
    INTO missing;
  IF missing THEN
    RAISE EXCEPTION 'insert or update on table "neuron_score" names a run that is not in attribution_run'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION "check_knowledge_neurons_match_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing boolean;
BEGIN
  EXECUTE 'SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id, checkpoint_id, setting_id, relation_key, language_key, fact_key FROM new_rows) n
             WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = n.run_id AND r.checkpoint_id = n.checkpoint_id
                                 AND r.setting_id = n.setting_id AND r.relation_key = n.relation_key
                                 AND r.language_key = n.language_key AND r.fact_key = n.fact_key))'
    INTO missing;
  IF missing THEN
    RAISE EXCEPTION 'insert or update on table "knowledge_neuron" names a run that is not in attribution_run, or not with these keys'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
