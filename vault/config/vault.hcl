# Vault server configuration, shared by the compose stack and the real-stack tests.
#
# Every placeholder below (a dollar sign and an upper-case name in braces) is filled from
# the environment by vault/render-config.sh, which gives each one the compose default:
#   VAULT_DATA_DIR        /vault/file      raft storage; compose mounts the vault-data volume here
#   VAULT_LISTEN_ADDRESS  0.0.0.0:8200
#   VAULT_API_ADDR        http://vault:8200
#   VAULT_CLUSTER_ADDR    http://vault:8201
#   VAULT_TLS_DISABLE     true             false: the listener speaks TLS with the two files below
#   VAULT_TLS_CERT_FILE   /vault/tls/vault.pem
#   VAULT_TLS_KEY_FILE    /vault/tls/vault.key
#
# Integrated storage (raft): a single node here, and the same storage a production cluster
# uses, so `vault operator raft snapshot save` is the backup.
storage "raft" {
  path    = "${VAULT_DATA_DIR}"
  node_id = "vault-1"
}

# TLS: off by default, because Vault is reachable only on the stack's internal network (no
# published port; see docker-compose.yml). docs/operator-guide.md ("TLS inside the core
# network") turns it on: VAULT_TLS_DISABLE=false, a certificate and key mounted at the two
# paths, https VAULT_ADDR and VAULT_API_ADDR, and VAULT_CACERT for every client.
listener "tcp" {
  address       = "${VAULT_LISTEN_ADDRESS}"
  tls_disable   = "${VAULT_TLS_DISABLE}"
  tls_cert_file = "${VAULT_TLS_CERT_FILE}"
  tls_key_file  = "${VAULT_TLS_KEY_FILE}"
}

api_addr     = "${VAULT_API_ADDR}"
cluster_addr = "${VAULT_CLUSTER_ADDR}"

# Raft keeps data on disk encrypted by the barrier; mlock is not needed and not allowed
# in an unprivileged container.
disable_mlock = true
ui            = false
log_level     = "info"
