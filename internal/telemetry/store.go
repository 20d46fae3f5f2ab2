// Package telemetry keeps pace's usage counters in telemetry.yaml and
// decides, from the user's settings, whether to keep them at all.
//
// Recording is the CLI's hot path: it never returns an error to the
// command, never waits long, and never touches the network (this package
// does not import net; a test checks it).
package telemetry

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/pace-cli/pace/function/payload"
	"github.com/pace-cli/pace/internal/config"
	"github.com/pace-cli/pace/internal/lockedfile"
)

// FileName is the counters file in the config folder.
const FileName = config.TelemetryName

// MaxFileSize is the largest telemetry file we read. Real files stay far
// below it (300 counters are about 20 KiB); a bigger one is not ours.
const MaxFileSize = 1 << 20

// DefaultLockTimeout bounds how long a command waits for the lock while
// the file does not change: a holder that long without writing is stuck,
// and this run goes uncounted rather than hold up the user. While other
// processes keep writing (a busy queue, not a stuck one), the wait goes
// on, up to maxLockWait times as long. Holders keep the lock well under a
// millisecond.
const DefaultLockTimeout = time.Second

const maxLockWait = 10

// Store is the telemetry file of one config folder. The zero values of the
// optional fields are the production defaults; tests override them.
type Store struct {
	Dir     string // the config folder
	Version string // the running CLI version, written as cli_version

	GOOS        string           // default runtime.GOOS
	Now         func() time.Time // default time.Now; names moved-aside files
	LockTimeout time.Duration    // wait without progress; default DefaultLockTimeout
	MaxLockWait time.Duration    // wait in all, progress or not; default 10 × LockTimeout
	Log         io.Writer        // explanations for PACE_TELEMETRY_DEBUG; nil is silent
}

// Path is the telemetry file's path.
func (s *Store) Path() string { return config.NewFolder(s.Dir).Telemetry() }

// Record adds one to the counter of (command path, exit code). It never
// fails the caller: problems are explained on Log and the run is simply
// not counted. It reports whether it created the file, which is when the
// CLI shows its one-time notice.
func (s *Store) Record(path string, code int) (created bool) {
	return s.RecordCrash(path, code, "")
}

// RecordCrash is Record for a run that panicked at site (a crash site,
// see payload.ValidCrashSite; "" for none): the site is counted too, under
// the command's path, unless the file holds payload.MaxCrashSites already.
// It takes the slow path: crashes are rare.
func (s *Store) RecordCrash(path string, code int, site string) (created bool) {
	return s.RecordRun(path, code, site).Created
}

// Recorded says what recording a run found.
type Recorded struct {
	Created    bool // the file was new
	NewVersion bool // the file was last written by another version of pace
}

// RecordRun is RecordCrash that also says whether the file was new or
// written by another version: the CLI then checks whether the notice it
// owes the user has changed, which it need not do on any other run.
func (s *Store) RecordRun(path string, code int, site string) (r Recorded) {
	if site != "" {
		if err := payload.ValidCrashSite(site); err != nil {
			s.logf("crash site not recorded: %v", err)
			site = ""
		}
	}
	if err := payload.ValidCommandPath(path); err != nil {
		s.logf("not recorded: %v", err)
		return r
	}
	if code < 0 || code > 255 {
		s.logf("not recorded: exit code %d is outside 0-255", code)
		return r
	}
	fast := func(data []byte) ([]byte, bool) {
		out, ok := splice(data, path, code, s.Version, s.goos())
		r.NewVersion = ok && !hasField(data, "cli_version", s.Version)
		return out, ok
	}
	if site != "" {
		fast = nil
	}
	err := s.edit(fast, func(p *payload.Payload, fresh bool) {
		r.Created, r.NewVersion = fresh, !fresh && p.CLIVersion != s.Version
		codes := p.MetricPoints[path]
		if codes == nil {
			codes = map[int]payload.Point{}
			p.MetricPoints[path] = codes
		}
		if n := codes[code].CumulativeCount; n < payload.MaxCount {
			codes[code] = payload.Point{CumulativeCount: n + 1}
		}
		if site != "" {
			addCrashSite(p, path, site, s.logf)
		}
	})
	if err != nil {
		s.logf("not recorded: %v", err)
		return Recorded{}
	}
	s.logf("recorded %q exit code %d in %s", path, code, s.Path())
	return r
}

// addCrashSite counts one crash at site under path, within the bound.
func addCrashSite(p *payload.Payload, path, site string, logf func(string, ...any)) {
	n := 0
	for _, m := range p.CrashSites {
		n += len(m)
	}
	sites := p.CrashSites[path]
	if _, known := sites[site]; !known && n >= payload.MaxCrashSites {
		logf("crash site not recorded: the file keeps %d crash sites already", n)
		return
	}
	if p.CrashSites == nil {
		p.CrashSites = map[string]map[string]payload.Point{}
	}
	if sites == nil {
		sites = map[string]payload.Point{}
		p.CrashSites[path] = sites
	}
	if c := sites[site].CumulativeCount; c < payload.MaxCount {
		sites[site] = payload.Point{CumulativeCount: c + 1}
	}
}

// Check reports what would stop Record from counting that Load does not
// see: a link or special file where the file's lock goes.
func (s *Store) Check() error {
	return lockedfile.CheckFiles(s.Path() + lockedfile.LockSuffix)
}

// Reset replaces the file with a new id and no counts.
func (s *Store) Reset() error {
	return s.edit(nil, func(p *payload.Payload, fresh bool) {
		lockedfile.RemoveTemps(s.Path()) // under the lock
		*p = *s.fresh()
	})
}

// Load reads the file. It returns an error wrapping fs.ErrNotExist when
// nothing has been recorded yet, and one matching ErrUnreadable when the
// file was read but is not counts pace understands; any other error is
// the reading's own (on Windows, a file being replaced at that moment
// answers "sharing violation"), and trying again later may succeed.
func (s *Store) Load() (*payload.Payload, error) {
	data, err := s.Raw()
	if errors.Is(err, lockedfile.ErrTooLarge) {
		// Content too, as Record sees it: the next run moves it aside.
		return nil, fmt.Errorf("%s: %w", s.Path(), unreadable{err})
	}
	if err != nil {
		return nil, err
	}
	p, _, err := decodeFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(), unreadable{err})
	}
	return p, nil
}

// Raw reads the file's bytes as they are, holding its lock shared: Record
// writes a changed count in place, and must never be seen half done.
func (s *Store) Raw() ([]byte, error) {
	idle := s.lockTimeout()
	data, err := lockedfile.ReadShared(s.Path(), MaxFileSize, idle, s.maxLockWait())
	if errors.Is(err, lockedfile.ErrLockTimeout) {
		return nil, lockBusy{s.Path(), idle, err}
	}
	return data, err
}

// lockBusy says in plain words why the file was not read: its lock was
// held, and the file did not change, for the whole wait.
type lockBusy struct {
	path string
	idle time.Duration
	err  error
}

func (b lockBusy) Error() string {
	return fmt.Sprintf("%s is locked by another process that has not written to it for %v (a pace run stopped or stuck?)", b.path, b.idle)
}

func (b lockBusy) Unwrap() error { return b.err }

// ErrUnreadable matches a telemetry file whose content pace cannot read;
// the next counted run moves it aside and starts afresh.
var ErrUnreadable = errors.New("telemetry file not readable as counts")

type unreadable struct{ error }

func (unreadable) Is(target error) bool { return target == ErrUnreadable }
func (u unreadable) Unwrap() error      { return u.error }

// edit runs change on the current counters under the lock and writes the
// result. A file that cannot be understood is moved aside, never
// overwritten, and change then gets fresh counters. If fast is given and
// can edit the file's bytes directly, it does so instead of change.
func (s *Store) edit(fast func(data []byte) ([]byte, bool), change func(p *payload.Payload, fresh bool)) error {
	if err := os.MkdirAll(s.Dir, config.DirPerm); err != nil {
		return err
	}
	// Checked after MkdirAll: someone else may have made the folder first.
	if err := config.CheckFolder(s.Dir); err != nil {
		return err
	}
	idle := s.lockTimeout()
	// In place: the usual edit (one count one higher) then rewrites a few
	// bytes instead of the file; readers take the lock (Raw).
	return lockedfile.EditInPlace(s.Path(), idle, s.maxLockWait(), MaxFileSize, config.FilePerm, func(data []byte, readErr error) ([]byte, error) {
		var p *payload.Payload
		fresh := false
		switch {
		case errors.Is(readErr, fs.ErrNotExist):
			p, fresh = s.fresh(), true
		case errors.Is(readErr, lockedfile.ErrTooLarge):
			if err := s.moveAside(fmt.Errorf("larger than %d bytes", MaxFileSize)); err != nil {
				return nil, err
			}
			p = s.fresh()
		case readErr != nil:
			return nil, readErr // unreadable for a reason we cannot fix; leave it be
		default:
			if fast != nil {
				if out, ok := fast(data); ok {
					return out, nil
				}
			}
			// The slow path is rare (a file pace did not write, or a new
			// version's first run): a good moment to clear what writers
			// killed mid-write left behind.
			lockedfile.RemoveTemps(s.Path())
			var err error
			var dropped int
			if p, dropped, err = decodeFile(data); err != nil {
				if err := s.moveAside(err); err != nil {
					return nil, err
				}
				p = s.fresh()
			} else if dropped > 0 {
				s.logf("dropped %d counters of commands pace does not count (such as shell completion, which the PACE CLI counted); kept the id and the other counts", dropped)
			}
		}
		change(p, fresh)
		p.CLIVersion = s.Version
		p.OperatingSystem = s.goos()
		return encode(p), nil
	})
}

// moveAside renames the file to telemetry.yaml.corrupt-<UTC time> so the
// user can inspect it; the caller holds the lock.
func (s *Store) moveAside(why error) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	base := s.Path() + config.CorruptSuffix + now().UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
	if err := lockedfile.Rename(s.Path(), name); err != nil {
		return fmt.Errorf("%s cannot be read (%v) nor moved aside: %w", s.Path(), why, err)
	}
	s.logf("%s cannot be read (%v); moved it to %s and started a new file", s.Path(), why, name)
	return nil
}

func (s *Store) fresh() *payload.Payload {
	return &payload.Payload{
		MetricPoints:    map[string]map[int]payload.Point{},
		CLIVersion:      s.Version,
		OperatingSystem: s.goos(),
		ID:              newID(),
	}
}

func (s *Store) lockTimeout() time.Duration {
	if s.LockTimeout > 0 {
		return s.LockTimeout
	}
	return DefaultLockTimeout
}

func (s *Store) maxLockWait() time.Duration {
	if s.MaxLockWait > 0 {
		return s.MaxLockWait
	}
	return maxLockWait * s.lockTimeout()
}

func (s *Store) goos() string {
	if s.GOOS != "" {
		return s.GOOS
	}
	return runtime.GOOS
}

func (s *Store) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "pace telemetry: "+format+"\n", args...)
	}
}
