// Command pace-telemetryd is the optional background uploader of pace's
// usage counts. It keeps all network I/O out of pace itself.
package main

import (
	"os"

	"github.com/pace-cli/pace/internal/daemoncmd"
)

func main() {
	os.Exit(daemoncmd.Main(os.Args[1:], daemoncmd.IO{Out: os.Stdout, Err: os.Stderr}, os.Getenv))
}
