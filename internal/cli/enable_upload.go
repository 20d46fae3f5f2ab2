package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pace-cli/pace/internal/command"
	"github.com/pace-cli/pace/internal/telemetry"
)

// withUpload gives `pace telemetry enable` its --upload flag: one step
// that turns counting on and sets up the uploader for this user, on every
// system (a systemd user unit, a launchd agent, a value in the Windows
// Run key). pace itself still sends nothing: it runs pace-telemetryd's own
// installer, found beside pace or on PATH, and says what it did. --upload
// is a flag of enable rather than a command of its own because it is
// "enable, and upload": without it, enable keeps its meaning.
func withUpload(e *env, c *cobra.Command) *cobra.Command {
	var up bool
	var endpoint string
	c.Flags().BoolVar(&up, "upload", false, "also install and start pace-telemetryd, the uploader, for you alone (no administrator needed)")
	c.Flags().StringVar(&endpoint, "endpoint", "", "with --upload: the receiver URL the uploader sends to (default: its own settings)")
	_ = c.RegisterFlagCompletionFunc("endpoint", cobra.NoFileCompletions)
	c.Example = command.Examples(
		"pace telemetry enable",
		"pace telemetry enable --upload   # and start the uploader, now and at each login",
		"pace telemetry status            # what is in effect, and why",
	)
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if endpoint != "" && !up {
			return command.Usagef("--endpoint is for --upload")
		}
		if err := run(cmd, args); err != nil || !up {
			return err
		}
		return e.setUpUploader(endpoint)
	}
	return c
}

// installTimeout bounds each pace-telemetryd step (a service manager may
// be slow; stop waits for a last upload).
const installTimeout = time.Minute

// setUpUploader installs and (re)starts pace-telemetryd for the config
// folder, then reports in plain words what runs, when, and how to undo it.
func (e *env) setUpUploader(endpoint string) error {
	st, err := e.telemetryState()
	if err != nil {
		return err
	}
	if st.decision.Mode != telemetry.On {
		return fmt.Errorf("the uploader was not set up: telemetry is %s (%s)", st.decision.Mode, st.decision.Reason)
	}
	prog := e.findDaemon()
	if prog == "" {
		return errors.New("the uploader was not set up: pace-telemetryd is neither next to pace nor on PATH; install it (it ships with pace) and run this again")
	}
	install := []string{"install", "--config-path", st.dir}
	if endpoint != "" {
		install = append(install, "--endpoint", endpoint)
	}
	if _, err := runDaemon(prog, install...); err != nil {
		return fmt.Errorf("the uploader was not set up: %w", err)
	}
	// restart: starts it, or makes a running one take the new settings.
	if _, err := runDaemon(prog, "restart"); err != nil {
		return fmt.Errorf("the uploader is installed but did not start: %w; 'pace-telemetryd status' says more, 'pace-telemetryd uninstall' removes it", err)
	}
	out, err := runDaemon(prog, "status", "-o", "json")
	var s struct {
		Service struct {
			State, Manager string
		} `json:"service"`
		Endpoint   string `json:"endpoint"`
		Interval   string `json:"interval"`
		Uploads    bool   `json:"uploads"`
		UploadsOff string `json:"uploads_off_reason"`
	}
	if err == nil {
		err = json.Unmarshal(out, &s)
	}
	if err != nil {
		return fmt.Errorf("the uploader is installed, but its status cannot be read: %w", err)
	}
	fmt.Fprintf(e.Out, "Set up the uploader: %s runs as you, from each login on (%s), and is %s now.\n", prog, whereItStarts(s.Service.Manager), s.Service.State)
	if s.Uploads {
		fmt.Fprintf(e.Out, "It uploads the counts in %s to %s (%s).\n", st.store.Path(), s.Endpoint, s.Interval)
	} else {
		fmt.Fprintf(e.Out, "It uploads nothing yet: %s.\n", s.UploadsOff)
	}
	fmt.Fprintln(e.Out, "To undo: 'pace-telemetryd uninstall' stops and removes it; 'pace telemetry local' keeps counting and uploads nothing.")
	return nil
}

// whereItStarts names, in plain words, what starts the uploader at login.
func whereItStarts(manager string) string {
	switch {
	case strings.Contains(manager, "systemd"):
		return "a systemd user unit"
	case strings.Contains(manager, "launchd"):
		return "a launchd agent in ~/Library/LaunchAgents"
	case manager == "windows-logon":
		return `a value in your Run key, HKCU\Software\Microsoft\Windows\CurrentVersion\Run`
	}
	return manager
}

// runDaemon runs pace-telemetryd with args and returns its output; its
// error output becomes the error.
func runDaemon(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// The uploader that start spawns must not hold our pipes open (under
	// wine it inherits them): once pace-telemetryd exited, its output is
	// all there.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return nil, fmt.Errorf("pace-telemetryd %s: %s", args[0], firstLine(errOut.String(), err.Error()))
	}
	return out.Bytes(), nil
}
