-- Every change of the checkpoint table is announced on channel kn_checkpoint (delivered when the
-- changing transaction commits): API processes keep checkpoint rows by name in memory and drop them
-- on this notification (src/store/checkpoint-cache.ts), whichever process made the change.
CREATE FUNCTION "checkpoint_notify_trigger"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kn_checkpoint', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "checkpoint_notify" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "checkpoint"
FOR EACH STATEMENT EXECUTE FUNCTION "checkpoint_notify_trigger"();
