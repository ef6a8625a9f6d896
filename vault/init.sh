#!/bin/sh
# One-shot setup of the stack's Vault, run by the vault-init service at every start and
# safe to re-run: initialise and unseal, then make sure the transit key, the policies and
# the gateway's AppRole exist, and hand the gateway its role id and secret id as files.
#
# Folders (compose volumes; each can be moved by its variable, as the real-stack tests do):
#   VAULT_UNSEAL_DIR    /vault/unseal     unseal key and root token (the vault-init service only)
#   VAULT_OPERATOR_DIR  /vault/operator   a periodic token for the encryption-keys tool (the keys service only)
#   VAULT_APPROLE_DIR   /vault/approle    role-id and secret-id for the gateway (mounted read-only there)
#   VAULT_POLICY_DIR    /vault/policies   the policies of vault/policies
set -eu

: "${VAULT_ADDR:=http://vault:8200}"
export VAULT_ADDR
unseal_dir=${VAULT_UNSEAL_DIR:-/vault/unseal}
operator_dir=${VAULT_OPERATOR_DIR:-/vault/operator}
approle_dir=${VAULT_APPROLE_DIR:-/vault/approle}
policy_dir=${VAULT_POLICY_DIR:-/vault/policies}
mount=${VAULT_TRANSIT_MOUNT:-transit}
key=${VAULT_TRANSIT_KEY:-gateway-files}
gateway_uid=${GATEWAY_UID:-1000}

log() { echo "vault-init: $*"; }

# Hands a file to the gateway's uid when running as root (in compose); a non-root run
# (the real-stack tests) already owns what it writes.
give_to_gateway() {
  if [ "$(id -u)" = 0 ]; then chown "$gateway_uid" "$@"; fi
}

wait_for_vault() {
  tries=0
  # `vault status` exits 0 when unsealed, 2 when sealed, 1 when Vault cannot be reached.
  while :; do
    rc=0
    vault status >/dev/null 2>&1 || rc=$?
    [ "$rc" -ne 1 ] && return 0
    tries=$((tries + 1))
    [ "$tries" -ge 60 ] && { log "Vault at $VAULT_ADDR did not answer"; exit 1; }
    sleep 1
  done
}

initialise() {
  if vault status 2>/dev/null | grep -q '^Initialized *true'; then return 0; fi
  log "initialising Vault (1 key share; see docs/operator-guide.md to move it offline)"
  umask 077
  vault operator init -key-shares=1 -key-threshold=1 >"$unseal_dir/init.txt"
  sed -n 's/^Unseal Key 1: //p' "$unseal_dir/init.txt" >"$unseal_dir/unseal-key"
  sed -n 's/^Initial Root Token: //p' "$unseal_dir/init.txt" >"$unseal_dir/root-token"
  rm -f "$unseal_dir/init.txt"
}

unseal() {
  if vault status 2>/dev/null | grep -q '^Sealed *false'; then return 0; fi
  if [ ! -s "$unseal_dir/unseal-key" ]; then
    log "Vault is sealed and no unseal key is stored: run 'vault operator unseal' by hand"
    exit 1
  fi
  vault operator unseal "$(cat "$unseal_dir/unseal-key")" >/dev/null
  log "unsealed"
}

login() {
  if [ -z "${VAULT_TOKEN:-}" ]; then
    [ -s "$unseal_dir/root-token" ] || { log "no VAULT_TOKEN and no stored root token"; exit 1; }
    VAULT_TOKEN=$(cat "$unseal_dir/root-token")
  fi
  export VAULT_TOKEN
}

ensure_transit_key() {
  vault read "sys/mounts/$mount" >/dev/null 2>&1 || vault secrets enable -path="$mount" transit >/dev/null
  if ! vault read "$mount/keys/$key" >/dev/null 2>&1; then
    # derived: each user's key is derived in Vault from the user id (the context).
    # exportable + allow_plaintext_backup: `encryption-keys backup` can take the key offline.
    vault write -f "$mount/keys/$key" type=aes256-gcm96 derived=true \
      exportable=true allow_plaintext_backup=true >/dev/null
    log "created transit key $mount/$key"
  fi
}

write_policies() {
  vault policy write gateway "$policy_dir/gateway.hcl" >/dev/null
  vault policy write operator "$policy_dir/operator.hcl" >/dev/null
  vault policy write restore-check "$policy_dir/restore-check.hcl" >/dev/null
}

ensure_gateway_approle() {
  vault auth list 2>/dev/null | grep -q '^approle/' || vault auth enable approle >/dev/null
  # token_no_default_policy: the gateway's token holds gateway.hcl and nothing else.
  vault write auth/approle/role/gateway token_policies=gateway token_no_default_policy=true \
    token_ttl=1h token_max_ttl=24h secret_id_ttl=0 >/dev/null
  umask 077
  vault read -field=role_id auth/approle/role/gateway/role-id >"$approle_dir/role-id"
  if [ ! -s "$approle_dir/secret-id" ]; then
    vault write -f -field=secret_id auth/approle/role/gateway/secret-id >"$approle_dir/secret-id"
    log "issued a secret id for the gateway"
  fi
  give_to_gateway "$approle_dir/role-id" "$approle_dir/secret-id"
  chmod 0400 "$approle_dir/role-id" "$approle_dir/secret-id"
}

# The encryption-keys tool's token: operator.hcl for the key lifecycle, plus gateway.hcl
# because rotation rewraps every stored data key and `verify` and the restore canary
# decrypt a sample. It lives only in the vault-operator volume, which only the on-demand
# `keys` service mounts.
ensure_operator_token() {
  [ -s "$operator_dir/token" ] && return 0
  umask 077
  vault token create -orphan -policy=operator -policy=gateway -policy=restore-check -no-default-policy -period=768h \
    -field=token >"$operator_dir/token"
  give_to_gateway "$operator_dir/token"
  log "issued the operator token"
}

wait_for_vault
initialise
unseal
login
ensure_transit_key
write_policies
ensure_gateway_approle
ensure_operator_token
log "ready"
