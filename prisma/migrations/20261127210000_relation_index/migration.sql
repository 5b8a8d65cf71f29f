-- Relation-level answers (LIKN of a relation over a language set, the language-overlap matrix) are
-- no longer kept in PostgreSQL: each API process keeps a packed index of a relation's knowledge
-- neurons per (checkpoint, setting, relation, version) and answers any language set from it
-- (src/store/relation-answers.ts). A process trusts an index only at the version it was loaded at,
-- so a version number must never be given twice to the same relation, not even after a checkpoint's
-- partitions were dropped (with its version rows) or the runs truncated: versions now come from
-- one sequence.
DROP TRIGGER "attribution_run_truncate_answers" ON "attribution_run";
DROP FUNCTION "forget_relation_answers"();
DROP TABLE "relation_answer";

CREATE SEQUENCE "relation_version_seq";
SELECT setval('relation_version_seq', COALESCE((SELECT max(version) FROM relation_version), 0) + 1, false);

-- every relation with runs has a version (runs stored before versions existed included)
INSERT INTO relation_version (checkpoint_id, setting_id, relation_key, version)
SELECT r.checkpoint_id, r.setting_id, r.relation_key, nextval('relation_version_seq')
FROM (SELECT DISTINCT checkpoint_id, setting_id, relation_key FROM attribution_run) r
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION "raise_relation_versions_of_deleted_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO relation_version AS v (checkpoint_id, setting_id, relation_key, version)
  SELECT k.checkpoint_id, k.setting_id, k.relation_key, nextval('relation_version_seq')
  FROM (SELECT DISTINCT checkpoint_id, setting_id, relation_key FROM old_runs ORDER BY 1, 2, 3) k
  ON CONFLICT (checkpoint_id, setting_id, relation_key) DO UPDATE SET version = nextval('relation_version_seq');
  RETURN NULL;
END $$;

-- a TRUNCATE of the runs changes every relation
CREATE FUNCTION "raise_relation_versions_of_truncated_runs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE relation_version SET version = nextval('relation_version_seq');
  RETURN NULL;
END $$;

CREATE TRIGGER "attribution_run_truncate_versions" AFTER TRUNCATE ON "attribution_run"
FOR EACH STATEMENT EXECUTE FUNCTION "raise_relation_versions_of_truncated_runs"();
