# Policy of the gateway's AppRole token: exactly the calls gateway/src/keys/vault-client.ts
# makes, on the one transit key. The role is created with token_no_default_policy, so
# nothing else is granted.
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

# Key metadata: versions and readiness checks.
path "transit/keys/gateway-files" {
  capabilities = ["read"]
}

# Token self-service, so the gateway can check and renew its own token.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
