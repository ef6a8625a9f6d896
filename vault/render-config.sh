#!/bin/sh
# Entry point of the Vault server, in compose and in the real-stack tests alike: fills the
# ${NAME} placeholders of vault.hcl from the environment (with the compose defaults) into a
# private copy, makes sure the raft data folder exists, then runs `vault server` with it.
# Vault's HCL has no placeholder syntax of its own.
#
# Usage: render-config.sh [extra vault server arguments...]
# VAULT_CONFIG_TEMPLATE and VAULT_CONFIG_RENDERED override the two paths.
set -eu

case "${1:-}" in
  -h | --help)
    # The header comment above is the manual.
    sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
    ;;
esac

: "${VAULT_DATA_DIR:=/vault/file}"
: "${VAULT_LISTEN_ADDRESS:=0.0.0.0:8200}"
: "${VAULT_API_ADDR:=http://vault:8200}"
: "${VAULT_CLUSTER_ADDR:=http://vault:8201}"
: "${VAULT_TLS_DISABLE:=true}"
: "${VAULT_TLS_CERT_FILE:=/vault/tls/vault.pem}"
: "${VAULT_TLS_KEY_FILE:=/vault/tls/vault.key}"
export VAULT_DATA_DIR VAULT_LISTEN_ADDRESS VAULT_API_ADDR VAULT_CLUSTER_ADDR
export VAULT_TLS_DISABLE VAULT_TLS_CERT_FILE VAULT_TLS_KEY_FILE

template=${VAULT_CONFIG_TEMPLATE:-/vault/config/vault.hcl}
rendered=${VAULT_CONFIG_RENDERED:-/tmp/vault/vault.hcl}

umask 077
mkdir -p "$(dirname "$rendered")" "$VAULT_DATA_DIR"

# Values are copied verbatim (awk string concatenation, no regex replacement); an unset or
# empty variable is an error, never "".
awk '
{
  rest = $0
  out = ""
  while (match(rest, /\$\{[A-Z_][A-Z0-9_]*\}/)) {
    name = substr(rest, RSTART + 2, RLENGTH - 3)
    if (ENVIRON[name] == "") {
      print "render-config: " name " is not set" > "/dev/stderr"
      missing = 1
    }
    out = out substr(rest, 1, RSTART - 1) ENVIRON[name]
    rest = substr(rest, RSTART + RLENGTH)
  }
  print out rest
}
END { exit missing }
' "$template" >"$rendered"

# VAULT_BIN names the binary when it is not on PATH (the real-stack tests).
exec "${VAULT_BIN:-vault}" server -config="$rendered" "$@"
