#!/bin/sh
# Runs once, when the Postgres volume is first created (docker-entrypoint-initdb.d):
# one database and one owner per service, so Kratos and the gateway cannot read each
# other's tables. The passwords come from Docker secrets (KRATOS_DB_PASSWORD_FILE,
# GATEWAY_DB_PASSWORD_FILE) or the environment, never from this file.
set -eu

case "${1:-}" in
  -h | --help)
    # The header comment above is the manual.
    sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
    ;;
esac

if [ -n "${KRATOS_DB_PASSWORD_FILE:-}" ]; then KRATOS_DB_PASSWORD=$(cat "$KRATOS_DB_PASSWORD_FILE"); fi
if [ -n "${GATEWAY_DB_PASSWORD_FILE:-}" ]; then GATEWAY_DB_PASSWORD=$(cat "$GATEWAY_DB_PASSWORD_FILE"); fi
: "${KRATOS_DB_PASSWORD:?KRATOS_DB_PASSWORD is not set}"
: "${GATEWAY_DB_PASSWORD:?GATEWAY_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v kratos_password="$KRATOS_DB_PASSWORD" -v gateway_password="$GATEWAY_DB_PASSWORD" <<'SQL'
CREATE ROLE kratos LOGIN PASSWORD :'kratos_password';
CREATE DATABASE kratos OWNER kratos;
REVOKE ALL ON DATABASE kratos FROM PUBLIC;
CREATE ROLE gateway LOGIN PASSWORD :'gateway_password';
CREATE DATABASE gateway OWNER gateway;
REVOKE ALL ON DATABASE gateway FROM PUBLIC;
SQL
