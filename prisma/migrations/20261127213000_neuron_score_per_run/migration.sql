-- neuron_score: one row per run instead of one row per top-K score (issue 13). A run's scores are
-- three parallel arrays in rank order (rank = array index - 1): about 10 bytes per score instead
-- of 84, and one tuple per run to COPY instead of K. Partitioned by checkpoint as before, tied to
-- its run by the same statement-level triggers (check_scores_have_runs; deleting or truncating runs
-- deletes the rows through delete_neuron_rows_of_runs / truncate_neuron_rows, which name the table).
-- Existing rows are carried over, each run's scores aggregated in rank order; the migration fails
-- (and, being one transaction, changes nothing) if a single score cannot be: a run whose ranks are
-- not exactly 0 .. n-1, or scores of a run that does not exist.
-- Hand-written where Prisma cannot say it (partitions, triggers, the CHECK, moving the data); the
-- end state is what prisma/schema.prisma describes (npm run db:diff -- --check).

-- The per-score table and its partitions step aside (with their indexes and triggers).
CREATE SCHEMA "kn_scores_v1";
DO $$
DECLARE
  part record;
BEGIN
  FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.neuron_score'::regclass LOOP
    EXECUTE format('ALTER TABLE public.%I SET SCHEMA kn_scores_v1', part.relname);
  END LOOP;
END $$;
ALTER TABLE "neuron_score" SET SCHEMA "kn_scores_v1";

-- What cannot be carried over fails the migration before anything is written.
DO $$
DECLARE
  n bigint;
BEGIN
  SELECT count(*) INTO n FROM (
    SELECT run_id FROM kn_scores_v1.neuron_score GROUP BY run_id, checkpoint_id HAVING min(rank) <> 0 OR max(rank) <> count(*) - 1
  ) g;
  IF n > 0 THEN
    RAISE EXCEPTION 'neuron_score migration: % run(s) have ranks that are not 0 .. n-1; their scores could not be carried over', n;
  END IF;
  SELECT count(*) INTO n FROM (
    SELECT DISTINCT run_id, checkpoint_id FROM kn_scores_v1.neuron_score s
    WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = s.run_id AND r.checkpoint_id = s.checkpoint_id)
  ) g;
  IF n > 0 THEN
    RAISE EXCEPTION 'neuron_score migration: scores of % run(s) that are not in attribution_run could not be carried over', n;
  END IF;
END $$;

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "neuron_score" (
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "layers" SMALLINT[],
    "units" INTEGER[],
    "scores" REAL[],

    CONSTRAINT "neuron_score_pkey" PRIMARY KEY ("run_id","checkpoint_id"),
    -- one score per index 1 .. K in each array (Prisma cannot say NOT NULL of a list)
    CONSTRAINT "neuron_score_arrays" CHECK (
      array_ndims("layers") = 1 AND array_lower("layers", 1) = 1
      AND array_ndims("units") = 1 AND array_lower("units", 1) = 1
      AND array_ndims("scores") = 1 AND array_lower("scores", 1) = 1
      AND cardinality("layers") = cardinality("scores") AND cardinality("units") = cardinality("scores")
      AND array_position("layers", NULL) IS NULL AND array_position("units", NULL) IS NULL AND array_position("scores", NULL) IS NULL)
) PARTITION BY LIST ("checkpoint_id");

SELECT create_checkpoint_partitions(id) FROM "checkpoint" ORDER BY id;

CREATE TRIGGER "neuron_score_run_insert" AFTER INSERT ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_scores_have_runs"();
CREATE TRIGGER "neuron_score_run_update" AFTER UPDATE ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_scores_have_runs"();

INSERT INTO "neuron_score" ("run_id", "checkpoint_id", "layers", "units", "scores")
SELECT run_id, checkpoint_id, array_agg(layer ORDER BY rank), array_agg(unit ORDER BY rank), array_agg(score ORDER BY rank)
FROM "kn_scores_v1"."neuron_score"
GROUP BY run_id, checkpoint_id;

-- Nothing may be lost on the way.
DO $$
DECLARE
  before bigint;
  after bigint;
BEGIN
  SELECT count(*) INTO before FROM kn_scores_v1.neuron_score;
  SELECT COALESCE(sum(cardinality(scores)), 0) INTO after FROM public.neuron_score;
  IF before <> after THEN
    RAISE EXCEPTION 'neuron_score migration: % of % scores could not be carried over', before - after, before;
  END IF;
END $$;

DROP SCHEMA "kn_scores_v1" CASCADE;
