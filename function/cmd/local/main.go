// Command local serves the telemetry receiver on 127.0.0.1:$PORT (default
// 8080) through the Functions Framework, as Cloud Functions does, for
// development, tests and load runs. It reads the same environment as the
// deployed function (TELEMETRY_SINK and the rest).
package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/pace-cli/pace/function" // registers Telemetry
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// Serve the function at "/", as Cloud Functions does, not at /Telemetry.
	if os.Getenv("FUNCTION_TARGET") == "" {
		os.Setenv("FUNCTION_TARGET", "Telemetry")
	}
	fmt.Fprintf(os.Stderr, "pace telemetry receiver on http://127.0.0.1:%s/\n", port)
	if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
