package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/upload"
)

func newTelemetryForgetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "forget",
		Short: "Ask the receiver to erase this install's data, then start over",
		Long: `Ask the receiver to erase everything it keeps under this install's id, then
start over as 'pace telemetry reset' does: a new random id and no counts.

pace itself sends nothing: it writes the request, with the old id, into
` + upload.ForgetFileName + ` in the config folder. pace-telemetryd sends it (also
when telemetry is off), retrying until the receiver confirms, and records it
in the sent log without the id; 'pace-telemetryd flush' sends it at once.
'pace telemetry status' shows the request until it is confirmed. A receiver
whose store cannot delete (Prometheus or Graphite, written by their ingest
protocols) answers so, and the request then stops, saying why.`,
		Example: command.Examples(
			"pace telemetry forget",
			"pace-telemetryd flush     # send the request now",
			"pace telemetry status     # shows the request until it is confirmed",
		),
		// Counting the forget itself would give the new id a count at once.
		Annotations: map[string]string{skipTelemetry: ""},
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := e.telemetryState()
			if err != nil {
				return err
			}
			p, err := st.store.Load()
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(e.Out, "Nothing to forget: no id is kept, so nothing was uploaded under one.")
				return nil
			}
			if err != nil {
				return whatNext(err)
			}
			old := p.ID
			// The request first: a reset that went first and a crash
			// between would lose the only proof the receiver asks for.
			if err := upload.AddForget(st.dir, old, time.Now()); err != nil {
				return fmt.Errorf("could not record the erasure request: %w", err)
			}
			if err := st.store.Reset(); err != nil {
				return fmt.Errorf("recorded the erasure request, but could not reset %s (%w); run 'pace telemetry forget' again", st.store.Path(), err)
			}
			if p, err = st.store.Load(); err != nil {
				return err
			}
			fmt.Fprintf(e.Out, "Erasure of id %s requested: pace-telemetryd sends the request to the receiver ('pace-telemetryd flush' sends it now).\n", old)
			fmt.Fprintf(e.Out, "Reset %s: new id %s, no counts.\n", st.store.Path(), p.ID)
			return nil
		},
	}
}

// forgetLines adds the erasure requests to `pace telemetry status`.
func forgetLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(w, "erasure:\t%s\n", l)
	}
}
