# Policy for key lifecycle work: create, rotate, configure, back up and restore the
# gateway's transit key, and snapshot Vault's storage. On its own it cannot obtain or
# unwrap a data key. The encryption-keys tool's token (vault/init.sh) holds this policy
# together with gateway.hcl, since rotation rewraps and `verify` decrypts; a human
# operator's token can hold this one alone.

# Create the key (first start, or after a restore on a new Vault) and read its metadata.
path "transit/keys/gateway-files" {
  capabilities = ["create", "read", "update"]
}

# Rotate to a new key version.
path "transit/keys/gateway-files/rotate" {
  capabilities = ["update"]
}

# Key configuration: min_decryption_version, deletion_allowed, allow_plaintext_backup.
path "transit/keys/gateway-files/config" {
  capabilities = ["update"]
}

# Drop key versions below min_available_version after every data key was re-wrapped.
path "transit/keys/gateway-files/trim" {
  capabilities = ["update"]
}

# Backup and restore of the key (the backup is itself key material: store it offline).
path "transit/backup/gateway-files" {
  capabilities = ["read"]
}

path "transit/restore/gateway-files" {
  capabilities = ["update"]
}

path "transit/restore" {
  capabilities = ["update"]
}

# Whole-storage snapshots of Vault's integrated storage.
path "sys/storage/raft/snapshot" {
  capabilities = ["read", "update"]
}

path "sys/storage/raft/snapshot-force" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

# The gateway's AppRole secret ids: vault-unsealer (`init.sh watch`, with this token) issues a
# new one before the stored one expires, checks the stored one and destroys the one it
# replaced. The role's settings, its role id and other roles stay with vault-init's root token.
path "auth/approle/role/gateway/secret-id" {
  capabilities = ["update"]
}

path "auth/approle/role/gateway/secret-id/lookup" {
  capabilities = ["update"]
}

path "auth/approle/role/gateway/secret-id/destroy" {
  capabilities = ["update"]
}
