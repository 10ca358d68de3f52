// Command gatehouse is the gatehouse server and its command-line client.
package main

import (
	"os"

	"github.com/gatehouse/gatehouse/internal/cli"
	"github.com/gatehouse/gatehouse/internal/servercmd"
)

func main() {
	root := cli.NewRoot(os.Stdout, os.Stderr, os.Stdin)
	root.AddCommand(servercmd.Commands(os.Stdout, os.Stderr)...)
	os.Exit(cli.Execute(root))
}
