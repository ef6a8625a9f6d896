# Policy of the gateway's AppRole token: exactly the calls the running gateway makes
# through gateway/src/keys/vault-client.ts, on the one transit key. The role is created
# with token_no_default_policy, so nothing else is granted.
#
# No "create" anywhere under transit/keys: a missing key is an error the operator sees,
# never a fresh key the gateway would silently start encrypting with.

# A fresh data key per file: the plaintext encrypts the file, the wrapped copy is stored.
path "transit/datakey/plaintext/gateway-files" {
  capabilities = ["update"]
}

# Unwrap a stored data key to read a file.
path "transit/decrypt/gateway-files" {
  capabilities = ["update"]
}

# Re-wrap stored data keys under the newest key version after a rotation.
path "transit/rewrap/gateway-files" {
  capabilities = ["update"]
}

# The audit chain key: one HMAC of a fixed string at start, from which the gateway derives
# the key of its audit chain (gateway/src/keys/audit-chain-key.ts). HMAC only.
path "transit/hmac/gateway-audit-chain" {
  capabilities = ["update"]
}

# Key metadata: versions and readiness checks. Read only: creating, rotating, configuring,
# backing up and restoring belong to operator.hcl.
path "transit/keys/gateway-files" {
  capabilities = ["read"]
}

# Renewal of its own AppRole token before the lease ends. (AppRole login and sys/health
# are unauthenticated and need no grant.)
path "auth/token/renew-self" {
  capabilities = ["update"]
}
