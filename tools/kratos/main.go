// Command kratos builds Ory Kratos from its published Go module, so the real-stack
// tests run the very server the product is deployed against. Nothing here changes
// Kratos: it only calls the module's own command tree.
package main

import (
	"os"

	"github.com/ory/kratos/cmd"
)

func main() {
	os.Exit(cmd.Execute())
}
