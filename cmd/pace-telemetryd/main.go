// Command pace-telemetryd is the optional background uploader of pace's
// usage counts. It keeps all network I/O out of pace itself.
package main

import (
	"os"

	"github.com/pace-cli/pace/internal/telemetryd"
)

func main() {
	os.Exit(telemetryd.Main(os.Args[1:], telemetryd.IO{Out: os.Stdout, Err: os.Stderr}, os.Getenv))
}
