-- Relation-level answers and the versions that invalidate them (src/store/relation-answers.ts),
-- partitioned by checkpoint like the run tables: the checkpoint trigger creates and drops their
-- partitions with the others, so clearing a checkpoint's runs clears its answers too.

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "relation_version" (
    "checkpoint_id" INTEGER NOT NULL,
    "setting_id" SMALLINT NOT NULL,
    "relation_key" SMALLINT NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "relation_version_pkey" PRIMARY KEY ("checkpoint_id","setting_id","relation_key")
) PARTITION BY LIST ("checkpoint_id");

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "relation_answer" (
    "checkpoint_id" INTEGER NOT NULL,
    "setting_id" SMALLINT NOT NULL,
    "relation_key" SMALLINT NOT NULL,
    "kind" TEXT NOT NULL,
    "args" TEXT NOT NULL,
    "version" BIGINT NOT NULL,
    "answer" JSONB NOT NULL,

    CONSTRAINT "relation_answer_pkey" PRIMARY KEY ("checkpoint_id","setting_id","relation_key","kind","args")
) PARTITION BY LIST ("checkpoint_id");

-- partitions for the checkpoints registered already (new ones get theirs from the trigger)
SELECT create_checkpoint_partitions(id) FROM checkpoint;

-- Runs deleted by any statement (saveRuns' replace, or by hand) raise their relations' versions, as
-- saveRuns does for the runs it inserts; a TRUNCATE of the runs forgets every answer.
CREATE FUNCTION "raise_relation_versions_of_deleted_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO relation_version AS v (checkpoint_id, setting_id, relation_key, version)
  SELECT DISTINCT checkpoint_id, setting_id, relation_key, 1 FROM old_runs ORDER BY 1, 2, 3
  ON CONFLICT (checkpoint_id, setting_id, relation_key) DO UPDATE SET version = v.version + 1;
  RETURN NULL;
END $$;

CREATE TRIGGER "attribution_run_relation_versions" AFTER DELETE ON "attribution_run"
REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION "raise_relation_versions_of_deleted_runs"();

CREATE FUNCTION "forget_relation_answers"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM relation_answer) THEN TRUNCATE relation_answer; END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "attribution_run_truncate_answers" AFTER TRUNCATE ON "attribution_run"
FOR EACH STATEMENT EXECUTE FUNCTION "forget_relation_answers"();
