// Command pace is the command-line client of PACE, the Policy As Code
// Engine.
package main

import (
	"os"

	"github.com/pace-cli/pace/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv))
}
