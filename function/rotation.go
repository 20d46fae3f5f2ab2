package function

import (
	"context"
	"log/slog"
	"time"
)

// keyRotator is a sink whose install keys are being rotated.
type keyRotator interface {
	Rotating() bool
	OldKeyStates(ctx context.Context) (int64, error)
}

// logKeyRotation says at start, during a key rotation, how many installs'
// state is still under the previous key: at 0 the previous key can go
// (docs/deploy.md, Key rotation). Instances start often, so the line is a
// running status of the transition.
func logKeyRotation(log *slog.Logger, s Sink) {
	r, ok := s.(keyRotator)
	if !ok || !r.Rotating() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.OldKeyStates(ctx)
	if err != nil {
		log.Warn("key rotation: could not count the installs still under TELEMETRY_ID_KEY_PREVIOUS", "error", err.Error())
		return
	}
	msg := "key rotation: installs still under TELEMETRY_ID_KEY_PREVIOUS; at 0, unset it and destroy the old key"
	if n == 0 {
		msg = "key rotation: no install is left under TELEMETRY_ID_KEY_PREVIOUS; unset it and destroy the old key"
	}
	log.Info(msg, "installs_under_previous_key", n)
}
