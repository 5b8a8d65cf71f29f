-- Store for scale (issue 13): integer keys instead of repeated text in the run and neuron tables,
-- enums for method and target mode, every neuron row identified by its run's whole key (setting =
-- method, steps, target mode), every neuron table tied to its run (foreign keys; set-based
-- triggers for the two largest), and the run and neuron tables LIST-partitioned by checkpoint (a
-- checkpoint's partitions are created by a trigger when the checkpoint row is inserted).
-- Existing rows are carried over, keeping their ids; the migration fails (and, being one
-- transaction, changes nothing) if a single row cannot be.
-- Hand-written where Prisma cannot say it (partitions, triggers, moving the data); the end state
-- is what prisma/schema.prisma describes (npm run db:diff -- --check).

-- CreateEnum
CREATE TYPE "attribution_method" AS ENUM ('ig', 'amig-compat', 'amig-ig');

-- CreateEnum
CREATE TYPE "target_mode" AS ENUM ('clean', 'compat');

-- Integer keys of the catalog, numbered in the order of the text keys they stand for.
ALTER TABLE "language" ADD COLUMN "key" SMALLSERIAL NOT NULL;
ALTER TABLE "relation" ADD COLUMN "key" SMALLSERIAL NOT NULL;
ALTER TABLE "fact" ADD COLUMN "key" SERIAL NOT NULL;
UPDATE "language" t SET "key" = o.n FROM (SELECT code, row_number() OVER (ORDER BY code) AS n FROM "language") o WHERE t.code = o.code;
UPDATE "relation" t SET "key" = o.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "relation") o WHERE t.id = o.id;
UPDATE "fact" t SET "key" = o.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM "fact") o WHERE t.id = o.id;
SELECT setval(pg_get_serial_sequence('language', 'key'), COALESCE((SELECT max("key") FROM "language"), 0) + 1, false);
SELECT setval(pg_get_serial_sequence('relation', 'key'), COALESCE((SELECT max("key") FROM "relation"), 0) + 1, false);
SELECT setval(pg_get_serial_sequence('fact', 'key'), COALESCE((SELECT max("key") FROM "fact"), 0) + 1, false);
CREATE UNIQUE INDEX "language_key_key" ON "language"("key");
CREATE UNIQUE INDEX "relation_key_key" ON "relation"("key");
CREATE UNIQUE INDEX "fact_key_key" ON "fact"("key");

-- CreateTable
CREATE TABLE "run_setting" (
    "id" SMALLSERIAL NOT NULL,
    "method" "attribution_method" NOT NULL,
    "steps" INTEGER NOT NULL,
    "target_mode" "target_mode" NOT NULL,

    CONSTRAINT "run_setting_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "run_setting_method_steps_target_mode_key" ON "run_setting"("method", "steps", "target_mode");

-- Every setting in use (a method or target mode outside the enums fails the cast, and so the migration).
INSERT INTO "run_setting" ("method", "steps", "target_mode")
SELECT DISTINCT method::"attribution_method", steps, target_mode::"target_mode" FROM (
  SELECT method, steps, target_mode FROM "attribution_run" UNION SELECT method, steps, target_mode FROM "index_job"
) s ORDER BY 1, 2, 3;

-- index_job names its setting
ALTER TABLE "index_job" ADD COLUMN "setting_id" SMALLINT;
UPDATE "index_job" j SET "setting_id" = s.id FROM "run_setting" s
 WHERE s.method = j.method::"attribution_method" AND s.steps = j.steps AND s.target_mode = j.target_mode::"target_mode";
ALTER TABLE "index_job" ALTER COLUMN "setting_id" SET NOT NULL,
DROP COLUMN "method",
DROP COLUMN "steps",
DROP COLUMN "target_mode";
ALTER TABLE "index_job" ADD CONSTRAINT "index_job_setting_id_fkey" FOREIGN KEY ("setting_id") REFERENCES "run_setting"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- The old run and neuron tables step aside (with their indexes, constraints and sequences) until
-- their rows are copied. language_independent_neuron was never written (its rows, if any, are
-- derived from knowledge_neuron by the language-independent-neuron queries) and goes.
DROP TABLE "language_independent_neuron";
CREATE SCHEMA "kn_store_v1";
ALTER TABLE "attribution_run" SET SCHEMA "kn_store_v1";
ALTER TABLE "neuron_score" SET SCHEMA "kn_store_v1";
ALTER TABLE "knowledge_neuron" SET SCHEMA "kn_store_v1";
ALTER TABLE "degenerate_set" SET SCHEMA "kn_store_v1";
ALTER TABLE "degenerate_member" SET SCHEMA "kn_store_v1";

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "attribution_run" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "setting_id" SMALLINT NOT NULL,
    "fact_key" INTEGER NOT NULL,
    "language_key" SMALLINT NOT NULL,
    "relation_key" SMALLINT NOT NULL,
    "prompt" TEXT NOT NULL,
    "gold_token_ids" INTEGER[],
    "gold_probs" DOUBLE PRECISION[],
    "gold_prob" DOUBLE PRECISION NOT NULL,
    "predicted_ids" INTEGER[],
    "predicted_text" TEXT NOT NULL,
    "predicted_prob" DOUBLE PRECISION NOT NULL,
    "tau" DOUBLE PRECISION NOT NULL,
    "max_score" DOUBLE PRECISION NOT NULL,
    "top_k" INTEGER NOT NULL,
    "n_knowledge" INTEGER NOT NULL,
    "n_layers" INTEGER NOT NULL,
    "ffn_width" INTEGER NOT NULL,
    "timings" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attribution_run_pkey" PRIMARY KEY ("id","checkpoint_id")
) PARTITION BY LIST ("checkpoint_id");

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "neuron_score" (
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "rank" SMALLINT NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "score" REAL NOT NULL,

    CONSTRAINT "neuron_score_pkey" PRIMARY KEY ("run_id","rank","checkpoint_id")
) PARTITION BY LIST ("checkpoint_id");

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "knowledge_neuron" (
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "setting_id" SMALLINT NOT NULL,
    "relation_key" SMALLINT NOT NULL,
    "language_key" SMALLINT NOT NULL,
    "fact_key" INTEGER NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "score" REAL NOT NULL,
    "rank" SMALLINT NOT NULL,

    CONSTRAINT "knowledge_neuron_pkey" PRIMARY KEY ("run_id","rank","checkpoint_id")
) PARTITION BY LIST ("checkpoint_id");

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "degenerate_set" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "run_id" BIGINT NOT NULL,
    "base_prob" DOUBLE PRECISION NOT NULL,
    "joint_prob" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "degenerate_set_pkey" PRIMARY KEY ("id","checkpoint_id")
) PARTITION BY LIST ("checkpoint_id");

-- CreateTable (partitioned by checkpoint)
CREATE TABLE "degenerate_member" (
    "set_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "alone_prob" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "degenerate_member_pkey" PRIMARY KEY ("set_id","layer","unit","checkpoint_id")
) PARTITION BY LIST ("checkpoint_id");

-- A checkpoint's partitions of every table partitioned by checkpoint_id (found in the catalog, so
-- a table added later is covered without changing this function): <table>_c<checkpoint id>.
CREATE FUNCTION "create_checkpoint_partitions"(checkpoint integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  parent record;
BEGIN
  FOR parent IN
    SELECT n.nspname AS schema, c.relname AS name
    FROM pg_partitioned_table p
    JOIN pg_class c ON c.oid = p.partrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partstrat = 'l' AND p.partnatts = 1 AND a.attname = 'checkpoint_id' AND n.nspname = current_schema()
    ORDER BY c.relname
  LOOP
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %I.%I FOR VALUES IN (%s)',
                   parent.schema, parent.name || '_c' || checkpoint, parent.schema, parent.name, checkpoint);
  END LOOP;
END $$;

CREATE FUNCTION "checkpoint_partitions_trigger"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM create_checkpoint_partitions(NEW.id);
  RETURN NEW;
END $$;

CREATE TRIGGER "checkpoint_partitions" AFTER INSERT ON "checkpoint"
FOR EACH ROW EXECUTE FUNCTION "checkpoint_partitions_trigger"();

SELECT create_checkpoint_partitions(id) FROM "checkpoint" ORDER BY id;

-- The rows, ids kept (index_job_item.run_id and edits keep pointing at the same runs).
INSERT INTO "attribution_run" ("id", "checkpoint_id", "setting_id", "fact_key", "language_key", "relation_key", "prompt",
  "gold_token_ids", "gold_probs", "gold_prob", "predicted_ids", "predicted_text", "predicted_prob", "tau", "max_score",
  "top_k", "n_knowledge", "n_layers", "ffn_width", "timings", "created_at")
SELECT r.id, r.checkpoint_id, s.id, f.key, l.key, rel.key, r.prompt,
  r.gold_token_ids, r.gold_probs, r.gold_prob, r.predicted_ids, r.predicted_text, r.predicted_prob, r.tau, r.max_score,
  r.top_k, r.n_knowledge, r.n_layers, r.ffn_width, r.timings, r.created_at
FROM "kn_store_v1"."attribution_run" r
JOIN "run_setting" s ON s.method = r.method::"attribution_method" AND s.steps = r.steps AND s.target_mode = r.target_mode::"target_mode"
JOIN "fact" f ON f.id = r.fact_id
JOIN "language" l ON l.code = r.language_code
JOIN "relation" rel ON rel.id = f.relation_id;

INSERT INTO "neuron_score" ("run_id", "checkpoint_id", "rank", "layer", "unit", "score")
SELECT n.run_id, r.checkpoint_id, n.rank, n.layer, n.unit, n.score
FROM "kn_store_v1"."neuron_score" n JOIN "kn_store_v1"."attribution_run" r ON r.id = n.run_id;

INSERT INTO "knowledge_neuron" ("run_id", "checkpoint_id", "setting_id", "relation_key", "language_key", "fact_key", "layer", "unit", "score", "rank")
SELECT k.run_id, r.checkpoint_id, r.setting_id, r.relation_key, r.language_key, r.fact_key, k.layer, k.unit, k.score, k.rank
FROM "kn_store_v1"."knowledge_neuron" k JOIN "attribution_run" r ON r.id = k.run_id;

INSERT INTO "degenerate_set" ("id", "checkpoint_id", "run_id", "base_prob", "joint_prob")
SELECT s.id, s.checkpoint_id, s.run_id, s.base_prob, s.joint_prob FROM "kn_store_v1"."degenerate_set" s;

INSERT INTO "degenerate_member" ("set_id", "checkpoint_id", "layer", "unit", "alone_prob")
SELECT m.set_id, s.checkpoint_id, m.layer, m.unit, m.alone_prob
FROM "kn_store_v1"."degenerate_member" m JOIN "kn_store_v1"."degenerate_set" s ON s.id = m.set_id;

SELECT setval(pg_get_serial_sequence('attribution_run', 'id'), COALESCE((SELECT max(id) FROM "attribution_run"), 0) + 1, false);
SELECT setval(pg_get_serial_sequence('degenerate_set', 'id'), COALESCE((SELECT max(id) FROM "degenerate_set"), 0) + 1, false);

-- Nothing may be lost on the way.
DO $$
DECLARE
  t text;
  before bigint;
  after bigint;
BEGIN
  FOREACH t IN ARRAY ARRAY['attribution_run', 'neuron_score', 'knowledge_neuron', 'degenerate_set', 'degenerate_member'] LOOP
    EXECUTE format('SELECT count(*) FROM kn_store_v1.%I', t) INTO before;
    EXECUTE format('SELECT count(*) FROM public.%I', t) INTO after;
    IF before <> after THEN
      RAISE EXCEPTION 'store migration: % of % rows of % could not be carried over (run of an unknown fact, language or setting?)', before - after, before, t;
    END IF;
  END LOOP;
END $$;

DROP SCHEMA "kn_store_v1" CASCADE;

-- CreateIndex
CREATE UNIQUE INDEX "attribution_run_checkpoint_id_setting_id_fact_key_language__key" ON "attribution_run"("checkpoint_id", "setting_id", "fact_key", "language_key");

-- CreateIndex
CREATE INDEX "attribution_run_checkpoint_id_setting_id_relation_key_langu_idx" ON "attribution_run"("checkpoint_id", "setting_id", "relation_key", "language_key", "fact_key", "n_knowledge");

-- CreateIndex
CREATE INDEX "degenerate_set_run_id_idx" ON "degenerate_set"("run_id");

-- CreateIndex
CREATE INDEX "knowledge_neuron_checkpoint_id_setting_id_relation_key_lang_idx" ON "knowledge_neuron"("checkpoint_id", "setting_id", "relation_key", "language_key", "fact_key", "layer", "unit", "rank");

-- CreateIndex
CREATE INDEX "knowledge_neuron_checkpoint_id_setting_id_layer_unit_fact_k_idx" ON "knowledge_neuron"("checkpoint_id", "setting_id", "layer", "unit", "fact_key", "language_key", "score");

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_setting_id_fkey" FOREIGN KEY ("setting_id") REFERENCES "run_setting"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_fact_key_fkey" FOREIGN KEY ("fact_key") REFERENCES "fact"("key") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_language_key_fkey" FOREIGN KEY ("language_key") REFERENCES "language"("key") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_relation_key_fkey" FOREIGN KEY ("relation_key") REFERENCES "relation"("key") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "degenerate_set" ADD CONSTRAINT "degenerate_set_run_id_checkpoint_id_fkey" FOREIGN KEY ("run_id", "checkpoint_id") REFERENCES "attribution_run"("id", "checkpoint_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "degenerate_member" ADD CONSTRAINT "degenerate_member_set_id_checkpoint_id_fkey" FOREIGN KEY ("set_id", "checkpoint_id") REFERENCES "degenerate_set"("id", "checkpoint_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- neuron_score and knowledge_neuron refer to their run per statement, not per row (a row-level
-- foreign key checks and locks the run once per inserted row: 5x slower bulk loads). Statements
-- on the parent tables are covered; writing into a partition directly is not.
CREATE FUNCTION "check_scores_have_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id, checkpoint_id FROM new_rows) n
             WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = n.run_id AND r.checkpoint_id = n.checkpoint_id)) THEN
    RAISE EXCEPTION 'insert or update on table "neuron_score" names a run that is not in attribution_run'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

-- A knowledge neuron's copies of its run's setting, relation, language and fact must be the run's:
-- the language-independent-neuron queries read them instead of the run.
CREATE FUNCTION "check_knowledge_neurons_match_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT run_id, checkpoint_id, setting_id, relation_key, language_key, fact_key FROM new_rows) n
             WHERE NOT EXISTS (SELECT 1 FROM attribution_run r WHERE r.id = n.run_id AND r.checkpoint_id = n.checkpoint_id
                                 AND r.setting_id = n.setting_id AND r.relation_key = n.relation_key
                                 AND r.language_key = n.language_key AND r.fact_key = n.fact_key)) THEN
    RAISE EXCEPTION 'insert or update on table "knowledge_neuron" names a run that is not in attribution_run, or not with these keys'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "neuron_score_run_insert" AFTER INSERT ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_scores_have_runs"();
CREATE TRIGGER "neuron_score_run_update" AFTER UPDATE ON "neuron_score"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_scores_have_runs"();
CREATE TRIGGER "knowledge_neuron_run_insert" AFTER INSERT ON "knowledge_neuron"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_knowledge_neurons_match_runs"();
CREATE TRIGGER "knowledge_neuron_run_update" AFTER UPDATE ON "knowledge_neuron"
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "check_knowledge_neurons_match_runs"();

-- Deleting runs deletes their neuron rows (what ON DELETE CASCADE does for the foreign keys).
CREATE FUNCTION "delete_neuron_rows_of_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM neuron_score s USING old_runs o WHERE s.run_id = o.id AND s.checkpoint_id = o.checkpoint_id;
  DELETE FROM knowledge_neuron k USING old_runs o WHERE k.run_id = o.id AND k.checkpoint_id = o.checkpoint_id;
  RETURN NULL;
END $$;

CREATE TRIGGER "attribution_run_neuron_rows" AFTER DELETE ON "attribution_run"
REFERENCING OLD TABLE AS old_runs FOR EACH STATEMENT EXECUTE FUNCTION "delete_neuron_rows_of_runs"();

-- (A TRUNCATE that names the neuron tables too has emptied them already and holds them open.)
CREATE FUNCTION "truncate_neuron_rows"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM neuron_score) THEN TRUNCATE neuron_score; END IF;
  IF EXISTS (SELECT 1 FROM knowledge_neuron) THEN TRUNCATE knowledge_neuron; END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "attribution_run_truncate" AFTER TRUNCATE ON "attribution_run"
FOR EACH STATEMENT EXECUTE FUNCTION "truncate_neuron_rows"();

-- A run's key never changes (its neuron rows would be left behind).
CREATE FUNCTION "forbid_run_key_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the id and checkpoint_id of an attribution_run row never change' USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER "attribution_run_key" BEFORE UPDATE OF "id", "checkpoint_id" ON "attribution_run"
FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id" OR OLD."checkpoint_id" IS DISTINCT FROM NEW."checkpoint_id")
EXECUTE FUNCTION "forbid_run_key_change"();
