// Command vault builds HashiCorp Vault from its published Go module, so the real-stack
// tests and the compose stack run one server at one version. Nothing here changes
// Vault: it only calls the module's own command tree.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
