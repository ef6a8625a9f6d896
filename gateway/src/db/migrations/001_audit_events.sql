-- Append-only, hash-chained audit log. Each row carries the hash of the row before it,
-- so any later change to a row breaks the chain at that row.
CREATE TABLE audit_events (
  seq          bigint PRIMARY KEY,
  occurred_at  timestamptz NOT NULL,
  type         text NOT NULL,
  outcome      text NOT NULL,
  identity_id  text,
  actor_id     text,
  ip           text,
  request_id   text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash    text NOT NULL,
  hash         text NOT NULL
);

CREATE INDEX audit_events_type_idx ON audit_events (type, seq);
CREATE INDEX audit_events_identity_idx ON audit_events (identity_id, seq);
CREATE INDEX audit_events_time_idx ON audit_events (occurred_at);

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
