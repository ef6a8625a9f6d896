# Policy for the dry run of `encryption-keys restore --dry-run`: the backup is restored to a
# check key beside the live one (gateway-files-restore-check-<time>), the backup's canary is
# decrypted with it to prove the backup unwraps what the live key wrapped, and the check key
# can be deleted afterwards. Nothing here touches the live key. Only the encryption-keys
# tool's token holds it (vault/init.sh), never the gateway's.

path "transit/restore/gateway-files-restore-check-*" {
  capabilities = ["update"]
}

path "transit/decrypt/gateway-files-restore-check-*" {
  capabilities = ["update"]
}

# Read the check key, allow its deletion (config), delete it.
path "transit/keys/gateway-files-restore-check-*" {
  capabilities = ["read", "update", "delete"]
}
