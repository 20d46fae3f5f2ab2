// Package function is the Google Cloud Functions entry of pace's telemetry
// receiver (package receiver): it registers the function Telemetry, and
// nothing else. Deploy with --entry-point=Telemetry.
package function

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pace-cli/pace/function/receiver"
)

// init registers the receiver, which is how the functions framework finds
// a function (it has no other hook before serving). It reads and checks
// the configuration, and opens nothing: the store is opened by the first
// request that needs it, so a database down at a cold start gets a 503
// and a CRITICAL log line, not a crash. A wrong configuration is a bad
// deploy, which must fail loudly at once: a CRITICAL line naming the
// variable and the fix, then exit 1, so the new revision never serves.
func init() {
	receiver.TuneGC(os.Getenv)
	cfg, err := receiver.LoadConfig(os.Getenv, os.ReadFile)
	var r *receiver.Receiver
	if err == nil {
		r, err = receiver.New(cfg, receiver.Options{Stdout: os.Stdout, Logger: receiver.NewLogger(os.Stderr)})
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, `{"severity":"CRITICAL","message":%q}`+"\n", "pace telemetry: "+err.Error())
		os.Exit(1)
	}
	functions.HTTP("Telemetry", r.ServeHTTP)
}
