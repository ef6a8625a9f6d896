-- Honey Jars: a user's collections of encrypted files, shared through per-jar grants.
CREATE TABLE jars (
  id          uuid PRIMARY KEY,
  owner_id    text NOT NULL,
  name        text NOT NULL,
  -- Reading a restricted jar needs an aal2 session.
  restricted  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jars_owner_idx ON jars (owner_id);

-- The owner is implicit (jars.owner_id); grants give other identities a role.
CREATE TABLE jar_grants (
  jar_id       uuid NOT NULL REFERENCES jars (id) ON DELETE CASCADE,
  identity_id  text NOT NULL,
  role         text NOT NULL CHECK (role IN ('editor', 'viewer')),
  granted_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (jar_id, identity_id)
);
CREATE INDEX jar_grants_identity_idx ON jar_grants (identity_id);

-- File metadata; the encrypted body is <DATA_DIR>/files/<id>.bin. The data key is stored
-- wrapped by the owner's key (Vault transit context = key_owner_id).
CREATE TABLE jar_files (
  id              uuid PRIMARY KEY,
  jar_id          uuid NOT NULL REFERENCES jars (id) ON DELETE CASCADE,
  key_owner_id    text NOT NULL,
  name            text NOT NULL,
  content_type    text NOT NULL,
  plain_size      bigint NOT NULL,
  stored_size     bigint NOT NULL,
  wrapped_key     text NOT NULL,
  key_version     integer NOT NULL,
  format_version  smallint NOT NULL,
  uploaded_by     text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jar_files_jar_idx ON jar_files (jar_id);
CREATE INDEX jar_files_key_version_idx ON jar_files (key_version);
