package upload

import (
	"fmt"
	"os"
	"time"

	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
)

// SentLogName is the log of every byte that left the machine.
const SentLogName = config.SentLogName

// SentLogMax bounds the log: past it, the older half is dropped.
const SentLogMax = 256 << 10

// logSent appends one upload to the sent log: when, where, the exact body,
// and the answer. Best effort: a log that cannot be written does not stop
// uploads (the daemon's own log says why).
func logSent(dir string, at time.Time, endpoint string, body []byte, res Result) error {
	answer := fmt.Sprintf("HTTP %d", res.Status)
	if res.Status == 0 || res.Err != nil {
		answer = fmt.Sprintf("%s (%v)", answer, res.Err)
	}
	entry := fmt.Sprintf("%s POST %s\n%s\n-> %s: %s\n\n", at.UTC().Format(time.RFC3339), endpoint, body, answer, res.Outcome)
	return appendSentLog(dir, entry)
}

// appendSentLog appends one entry, trimming the log past SentLogMax.
func appendSentLog(dir, entry string) error {
	path := config.NewFolder(dir).SentLog()
	if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(entry)) > SentLogMax {
		trimSentLog(path)
	}
	f, err := lockedfile.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, config.FilePerm)
	if err != nil {
		return err
	}
	_, err = f.WriteString(entry)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// trimSentLog keeps the newer half of the log, cut at an entry boundary.
func trimSentLog(path string) {
	data, err := lockedfile.Read(path, 64<<20)
	if err != nil {
		return
	}
	keep := data[len(data)/2:]
	for i := 0; i+1 < len(keep); i++ {
		if keep[i] == '\n' && keep[i+1] == '\n' {
			keep = keep[i+2:]
			break
		}
	}
	lockedfile.Replace(path, keep, config.FilePerm)
}
