package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
)

// StateFileName holds what the upload daemon knows of its uploads, beside
// telemetry.yaml. Only the daemon writes it (it holds the daemon lock);
// `pace telemetry status` reads it.
const StateFileName = config.UploadStateName

// State is the daemon's memory across restarts.
type State struct {
	// LastSuccess is when an upload was last delivered (2xx).
	LastSuccess time.Time `json:"last_success,omitzero"`
	// DeliveredDigest is the SHA-256 of the body last delivered: the same
	// body is not sent again.
	DeliveredDigest string `json:"delivered_digest,omitempty"`
	// RejectedDigest is the digest of a body the receiver refused with a
	// 4xx other than 429: it is not retried until the counts change.
	RejectedDigest string `json:"rejected_digest,omitempty"`
	// LastAttempt, LastError and Failures describe the latest tries.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	// RetryAt is the earliest time of the next try after a failure.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// LoadState reads the state in dir; a missing or unreadable file
// gives a zero state (the worst that does is one repeated upload, which
// cumulative counts make harmless).
func LoadState(dir string) (State, error) {
	var s State
	data, err := lockedfile.Read(config.NewFolder(dir).UploadState(), 1<<16)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return State{}, fmt.Errorf("%s: %v", StateFileName, err)
	}
	// Written by the daemon already sanitized; a hand-edited file must not
	// reach a terminal raw either.
	s.LastError = Sanitize(s.LastError, 4*MaxAnswer)
	return s, nil
}

// Save writes the state atomically. The caller holds the daemon lock.
func (s State) Save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return lockedfile.Replace(config.NewFolder(dir).UploadState(), append(data, '\n'), config.FilePerm)
}
