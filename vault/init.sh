#!/bin/sh
# Setup and upkeep of the stack's Vault. Safe to re-run.
#
#   init.sh          one-shot setup (the vault-init service, at every start of the stack):
#                    initialise and unseal, then make sure the audit device, the transit key,
#                    the policies and the gateway's AppRole exist, hand the gateway its role
#                    id and secret id as files, and issue or renew the operator token.
#   init.sh watch    the vault-unsealer service, running for as long as the stack runs:
#                    unseals Vault again after every restart of Vault (or of the host),
#                    renews the operator token and replaces the gateway's secret id before
#                    it expires (with the operator token), so that nobody has to act.
#   init.sh status   prints the seal state, the operator token's remaining lifetime and the
#                    age of the gateway's secret id, with a warning when one needs action
#                    (scripts/manage status runs it).
#
# Unsealing: with Vault's default Shamir seal the unseal key is kept in VAULT_UNSEAL_DIR, on
# the same host as the data (the plain-key default: whoever reads both volumes holds every
# file key; docs/operator-guide.md states the risk). With an auto-unseal seal stanza
# (vault/config/seal-transit.hcl.example, or a cloud KMS) Vault is initialised with recovery
# keys, unseals itself, and no unseal key is stored here at all.
#
# Folders (compose volumes; each can be moved by its variable, as the real-stack tests do):
#   VAULT_UNSEAL_DIR    /vault/unseal     unseal (or recovery) key and root token
#   VAULT_OPERATOR_DIR  /vault/operator   a periodic token for the encryption-keys tool
#   VAULT_APPROLE_DIR   /vault/approle    role-id and secret-id for the gateway (mounted read-only
#                                         there; it reads secret-id again at every Vault login)
#   VAULT_POLICY_DIR    /vault/policies   the policies of vault/policies
# Settings:
#   VAULT_AUDIT_FILE              /vault/logs/audit.log   file audit device (a path on the Vault server)
#   VAULT_APPROLE_CIDRS           (none)                  CIDR list the secret id and its tokens are bound to
#   VAULT_SECRET_ID_TTL           2160h                   lifetime of a gateway secret id (90 days)
#   VAULT_SECRET_ID_ROTATE_DAYS   30                      watch (hourly) and every vault-init run issue a
#                                                         new one when older, and destroy the old one
#   VAULT_OPERATOR_TOKEN_PERIOD   768h                    period of the operator token (renewed by watch)
#   VAULT_WATCH_INTERVAL          10                      seconds between two checks of watch
#   VAULT_RENEW_INTERVAL          3600                    seconds between two token renewals (and secret
#                                                         id checks) of watch
set -eu

: "${VAULT_ADDR:=http://vault:8200}"
export VAULT_ADDR
unseal_dir=${VAULT_UNSEAL_DIR:-/vault/unseal}
operator_dir=${VAULT_OPERATOR_DIR:-/vault/operator}
approle_dir=${VAULT_APPROLE_DIR:-/vault/approle}
policy_dir=${VAULT_POLICY_DIR:-/vault/policies}
audit_file=${VAULT_AUDIT_FILE:-/vault/logs/audit.log}
mount=${VAULT_TRANSIT_MOUNT:-transit}
key=${VAULT_TRANSIT_KEY:-gateway-files}
audit_key=${AUDIT_CHAIN_VAULT_KEY:-gateway-audit-chain}
gateway_uid=${GATEWAY_UID:-1000}
approle_cidrs=${VAULT_APPROLE_CIDRS:-}
secret_id_ttl=${VAULT_SECRET_ID_TTL:-2160h}
rotate_days=${VAULT_SECRET_ID_ROTATE_DAYS:-30}
operator_period=${VAULT_OPERATOR_TOKEN_PERIOD:-768h}
watch_interval=${VAULT_WATCH_INTERVAL:-10}
renew_interval=${VAULT_RENEW_INTERVAL:-3600}

log() { echo "vault-init: $*"; }

# Hands a file to the gateway's uid and group when running as root (in compose); a non-root
# run (the real-stack tests) already owns what it writes. The group lets the unsealer and
# scripts/manage keys (running as the operator's uid with that group) read the operator token.
give_to_gateway() {
  if [ "$(id -u)" = 0 ]; then chown "$gateway_uid:$gateway_uid" "$@"; fi
}

# `vault status` exits 0 when unsealed, 2 when sealed, 1 when Vault cannot be reached.
status_code() {
  rc=0
  vault status >/dev/null 2>&1 || rc=$?
  echo "$rc"
}

wait_for_vault() {
  tries=0
  while [ "$(status_code)" = 1 ]; do
    tries=$((tries + 1))
    [ "$tries" -ge 60 ] && { log "Vault at $VAULT_ADDR did not answer"; exit 1; }
    sleep 1
  done
}

# "shamir" for the default seal; "transit", "awskms", ... for an auto-unseal seal.
seal_type() {
  vault status -format=json 2>/dev/null | sed -n 's/^ *"type": *"\([a-z0-9-]*\)".*/\1/p' | head -n 1
}

initialise() {
  if vault status 2>/dev/null | grep -q '^Initialized *true'; then return 0; fi
  umask 077
  if [ "$(seal_type)" = shamir ]; then
    log "initialising Vault (1 unseal key share; see docs/operator-guide.md to move it offline)"
    vault operator init -key-shares=1 -key-threshold=1 >"$unseal_dir/init.txt"
    sed -n 's/^Unseal Key 1: //p' "$unseal_dir/init.txt" >"$unseal_dir/unseal-key"
  else
    log "initialising Vault with auto-unseal ($(seal_type)): recovery key instead of an unseal key"
    vault operator init -recovery-shares=1 -recovery-threshold=1 >"$unseal_dir/init.txt"
    sed -n 's/^Recovery Key 1: //p' "$unseal_dir/init.txt" >"$unseal_dir/recovery-key"
  fi
  sed -n 's/^Initial Root Token: //p' "$unseal_dir/init.txt" >"$unseal_dir/root-token"
  rm -f "$unseal_dir/init.txt"
}

# Returns 0 once Vault is unsealed. An auto-unseal Vault unseals itself: only wait for it.
unseal() {
  [ "$(status_code)" = 0 ] && return 0
  if [ "$(seal_type)" != shamir ]; then
    log "Vault is sealed; waiting for its $(seal_type) seal to unseal it"
    return 1
  fi
  if [ ! -s "$unseal_dir/unseal-key" ]; then
    log "Vault is sealed and no unseal key is stored: run 'vault operator unseal' by hand"
    return 1
  fi
  vault operator unseal "$(cat "$unseal_dir/unseal-key")" >/dev/null
  log "unsealed"
}

wait_until_unsealed() {
  tries=0
  until unseal; do
    tries=$((tries + 1))
    [ "$tries" -ge 30 ] && exit 1
    sleep 2
  done
}

login() {
  if [ -z "${VAULT_TOKEN:-}" ]; then
    [ -s "$unseal_dir/root-token" ] || { log "no VAULT_TOKEN and no stored root token"; exit 1; }
    VAULT_TOKEN=$(cat "$unseal_dir/root-token")
  fi
  export VAULT_TOKEN
}

# Every request and answer, HMAC'd by Vault, in a file on the Vault server (vault-logs volume).
ensure_audit_device() {
  vault audit list 2>/dev/null | grep -q '^file/' && return 0
  vault audit enable file file_path="$audit_file" >/dev/null
  log "enabled the file audit device ($audit_file)"
}

ensure_transit_key() {
  vault read "sys/mounts/$mount" >/dev/null 2>&1 || vault secrets enable -path="$mount" transit >/dev/null
  if ! vault read "$mount/keys/$key" >/dev/null 2>&1; then
    # derived: each user's key is derived in Vault from the user id (the context).
    # exportable + allow_plaintext_backup: `encryption-keys backup` takes the key offline, so
    # a lost Vault (disk, host, unseal key) does not lose every file. Vault requires both for
    # transit/backup, and neither can be turned off again once set; the backup bundle is
    # therefore key material (docs/operator-guide.md, "Why the transit key is exportable").
    vault write -f "$mount/keys/$key" type=aes256-gcm96 derived=true \
      exportable=true allow_plaintext_backup=true >/dev/null
    log "created transit key $mount/$key"
  fi
  # The audit chain key: the gateway derives its audit chain key once at start from this
  # key's HMAC (gateway/src/keys/audit-chain-key.ts). Not exportable; Vault snapshots keep it.
  if ! vault read "$mount/keys/$audit_key" >/dev/null 2>&1; then
    vault write -f "$mount/keys/$audit_key" type=aes256-gcm96 >/dev/null
    log "created transit key $mount/$audit_key"
  fi
}

write_policies() {
  vault policy write gateway "$policy_dir/gateway.hcl" >/dev/null
  vault policy write operator "$policy_dir/operator.hcl" >/dev/null
  vault policy write restore-check "$policy_dir/restore-check.hcl" >/dev/null
}

# Age of a file in whole days (0 for a missing file).
age_days() {
  [ -e "$1" ] || { echo 0; return; }
  now=$(date +%s)
  then=$(date -r "$1" +%s)
  echo $(((now - then) / 86400))
}

# Whether Vault still accepts the stored secret id. The id goes to the vault CLI on stdin,
# never in its arguments (which `ps` shows).
secret_id_valid() {
  [ -s "$approle_dir/secret-id" ] || return 1
  stored=$(cat "$approle_dir/secret-id")
  printf '%s' "$stored" | vault write auth/approle/role/gateway/secret-id/lookup secret_id=- 2>/dev/null |
    grep -q '^secret_id_ttl'
}

# Writes the gateway's secret id file atomically (a file beside it, renamed over it), so a
# gateway reading it at a login never sees half a file: mode 0440, the gateway's uid and
# group (vault-unsealer reads it, in that group, to check it).
write_secret_id() {
  tmp="$approle_dir/.secret-id.$$"
  (umask 077 && printf '%s\n' "$1" >"$tmp")
  chmod 0440 "$tmp"
  give_to_gateway "$tmp"
  mv -f "$tmp" "$approle_dir/secret-id"
}

# Issues a new secret id, hands it to the gateway, then destroys the one it replaces. The
# gateways read the file at every login, so they use the new one from their next login on
# (at the latest when their token reaches its 24 h max TTL); tokens already issued stay valid.
rotate_secret_id() {
  old=""
  if [ -s "$approle_dir/secret-id" ]; then old=$(cat "$approle_dir/secret-id"); fi
  new=$(vault write -f -field=secret_id auth/approle/role/gateway/secret-id) || return 1
  [ -n "$new" ] || return 1
  write_secret_id "$new"
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    printf '%s' "$old" | vault write auth/approle/role/gateway/secret-id/destroy secret_id=- >/dev/null 2>&1 ||
      log "WARNING: could not destroy the replaced gateway secret id; it expires by itself"
  fi
  log "issued a new gateway secret id (valid $secret_id_ttl, replaced after $rotate_days days); the gateways use it at their next login"
}

# A new secret id when the stored one is missing, no longer accepted, or rotate_days old.
refresh_secret_id() {
  if secret_id_valid && [ "$(age_days "$approle_dir/secret-id")" -lt "$rotate_days" ]; then return 0; fi
  rotate_secret_id
}

ensure_gateway_approle() {
  vault auth list 2>/dev/null | grep -q '^approle/' || vault auth enable approle >/dev/null
  # token_no_default_policy: the gateway's token holds gateway.hcl and nothing else. The secret
  # id expires (secret_id_ttl) and, with VAULT_APPROLE_CIDRS, works only from the stack's core
  # network, as do the tokens it yields.
  vault write auth/approle/role/gateway token_policies=gateway token_no_default_policy=true \
    token_ttl=1h token_max_ttl=24h secret_id_ttl="$secret_id_ttl" \
    secret_id_bound_cidrs="$approle_cidrs" token_bound_cidrs="$approle_cidrs" >/dev/null
  umask 077
  if [ -e "$approle_dir/role-id" ]; then chmod 0600 "$approle_dir/role-id"; fi
  vault read -field=role_id auth/approle/role/gateway/role-id >"$approle_dir/role-id"
  give_to_gateway "$approle_dir/role-id"
  chmod 0400 "$approle_dir/role-id"
  refresh_secret_id
  # A file from an older setup (mode 0400, or another owner) gets today's owner and mode.
  give_to_gateway "$approle_dir/secret-id"
  chmod 0440 "$approle_dir/secret-id"
}

# Renews the operator token with itself (it holds auth/token/renew-self): a periodic token
# lives for one more period after each renewal, so it never expires while this runs.
renew_operator_token() {
  [ -s "$operator_dir/token" ] || return 1
  VAULT_TOKEN=$(cat "$operator_dir/token") vault token renew >/dev/null 2>&1
}

# The encryption-keys tool's token: operator.hcl for the key lifecycle, plus gateway.hcl
# because rotation rewraps every stored data key and `verify` and the restore canary
# decrypt a sample. It lives only in the vault-operator volume, which only the on-demand
# `keys` service (and the unsealer, to renew it) mounts. One that expired or was revoked is
# replaced.
ensure_operator_token() {
  if renew_operator_token; then
    log "renewed the operator token (valid $operator_period from now)"
    return 0
  fi
  umask 077
  if [ -e "$operator_dir/token" ]; then chmod 0600 "$operator_dir/token"; fi
  vault token create -orphan -policy=operator -policy=gateway -policy=restore-check -no-default-policy \
    -period="$operator_period" -field=token >"$operator_dir/token"
  give_to_gateway "$operator_dir/token"
  chmod 0440 "$operator_dir/token"
  log "issued the operator token"
}

operator_token_ttl() {
  [ -s "$operator_dir/token" ] || { echo missing; return; }
  # `vault token lookup` takes no -field: read the ttl (seconds) out of its JSON.
  ttl=$(VAULT_TOKEN=$(cat "$operator_dir/token") vault token lookup -format=json 2>/dev/null |
    sed -n 's/^ *"ttl": *\([0-9][0-9]*\),*$/\1/p' | head -n1)
  [ -n "$ttl" ] || { echo expired; return; }
  echo "$((ttl / 3600))h$((ttl % 3600 / 60))m$((ttl % 60))s"
}

status() {
  case "$(status_code)" in
    0) echo "vault: unsealed ($(seal_type) seal)" ;;
    2) echo "vault: SEALED ($(seal_type) seal): the vault-unsealer service unseals it; see its logs" ;;
    *) echo "vault: UNREACHABLE at $VAULT_ADDR" ;;
  esac
  echo "operator token: $(operator_token_ttl) left (renewed by the vault-unsealer service)"
  age=$(age_days "$approle_dir/secret-id")
  echo "gateway secret id: issued $age days ago, valid $secret_id_ttl (replaced by the vault-unsealer service after $rotate_days days)"
  if [ "$age" -gt "$rotate_days" ]; then
    echo "WARNING: the gateway secret id is $age days old and was not replaced: see scripts/manage logs vault-unsealer; scripts/manage start issues a new one"
  fi
  if [ -s "$operator_dir/token" ] && [ "$(status_code)" = 0 ]; then
    VAULT_TOKEN=$(cat "$operator_dir/token")
    export VAULT_TOKEN
    if ! secret_id_valid; then
      echo "WARNING: Vault does not accept the stored gateway secret id: scripts/manage start issues a new one"
    fi
  fi
}

watch() {
  log "watching Vault at $VAULT_ADDR every ${watch_interval}s"
  last_renewal=0
  while :; do
    code=$(status_code)
    if [ "$code" = 2 ]; then unseal || true; fi
    now=$(date +%s)
    if [ "$(status_code)" = 0 ] && [ $((now - last_renewal)) -ge "$renew_interval" ]; then
      last_renewal=$now
      if renew_operator_token; then
        # The gateway's secret id, with the operator token (vault/policies/operator.hcl).
        VAULT_TOKEN=$(cat "$operator_dir/token")
        export VAULT_TOKEN
        refresh_secret_id ||
          log "WARNING: cannot issue a new gateway secret id (it expires $secret_id_ttl after it was issued): run scripts/manage start"
      else
        log "WARNING: cannot renew the operator token; it may have expired: run scripts/manage start"
      fi
    fi
    sleep "$watch_interval"
  done
}

case "${1:-setup}" in
  setup)
    wait_for_vault
    initialise
    wait_until_unsealed
    login
    ensure_audit_device
    ensure_transit_key
    write_policies
    ensure_gateway_approle
    ensure_operator_token
    log "ready"
    ;;
  watch) watch ;;
  status) status ;;
  -h | --help | help)
    # The header comment above is the manual.
    sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"
    ;;
  *)
    echo "usage: init.sh [setup|watch|status|--help]" >&2
    exit 2
    ;;
esac
