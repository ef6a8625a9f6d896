-- Progress of `encryption-keys rotate`, so an interrupted rewrap resumes where it stopped.
CREATE TABLE key_rotations (
  key_name        text PRIMARY KEY,
  target_version  integer NOT NULL,
  -- Files are rewrapped in id order; everything up to this id is done.
  last_file_id    uuid,
  rewrapped       integer NOT NULL DEFAULT 0,
  failed          integer NOT NULL DEFAULT 0,
  started_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz
);

-- Backups written by `encryption-keys backup`, for `status` to report the last one.
CREATE TABLE key_backups (
  id          bigserial PRIMARY KEY,
  key_name    text NOT NULL,
  backend     text NOT NULL,
  file_name   text NOT NULL,
  sha256      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
