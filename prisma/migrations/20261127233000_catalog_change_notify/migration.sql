-- Every change of the checkpoint and relation tables is announced on channel kn_catalog, the
-- table's name as payload (delivered when the changing transaction commits): API processes keep
-- those rows in memory and drop them on this notification (src/store/catalog-cache.ts), whichever
-- process made the change.
CREATE FUNCTION "catalog_notify_trigger"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kn_catalog', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER "checkpoint_notify" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "checkpoint"
FOR EACH STATEMENT EXECUTE FUNCTION "catalog_notify_trigger"();

CREATE TRIGGER "relation_notify" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "relation"
FOR EACH STATEMENT EXECUTE FUNCTION "catalog_notify_trigger"();
