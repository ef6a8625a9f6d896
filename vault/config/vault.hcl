# Vault server configuration for the compose stack.
#
# Integrated storage (raft) on the vault-data volume: a single node here, and the same
# storage a production cluster uses, so `vault operator raft snapshot save` is the backup.
storage "raft" {
  path    = "/vault/data"
  node_id = "vault-1"
}

# TLS note: the listener is plain HTTP because Vault is reachable only on the stack's
# internal network (no published port; see docker-compose.yml). When Vault runs on
# another host or the network is shared, set tls_disable = false with tls_cert_file and
# tls_key_file, and give the gateway an https VAULT_ADDR.
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr     = "http://vault:8200"
cluster_addr = "http://vault:8201"

# Raft keeps data on disk encrypted by the barrier; mlock is not needed and not allowed
# in an unprivileged container.
disable_mlock = true
ui            = false
log_level     = "info"
