package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pace-cli/pace/internal/lockedfile"
)

// The names of everything pace and pace-telemetryd keep in the config
// folder, in one place (as golang.org/x/telemetry's internal Dir does), so
// that the CLI, the daemon, the upload code and the docs agree on them.
const (
	ConfigName      = "config.yaml"           // the user's settings
	TelemetryName   = "telemetry.yaml"        // the counters
	UploadStateName = "telemetry-upload.json" // the daemon's memory of its uploads
	SentLogName     = "telemetry-sent.log"    // every byte the daemon sent
	DaemonLockName  = "telemetryd.lock"       // one daemon per folder
	PoliciesName    = "data-policies"         // a folder of data policies
	ForgetName      = "telemetry-forget.json" // erasure requests not yet confirmed by the receiver
	NoticeName      = "telemetry-notice"      // the version of the first-run notice last shown

	// LockSuffix names the lock beside a shared file (config.yaml.lock,
	// telemetry.yaml.lock); TempSuffix starts the random name of a file
	// being written before it replaces the file (telemetry.yaml.tmp-123).
	LockSuffix = lockedfile.LockSuffix
	TempSuffix = lockedfile.TempSuffix
	// CorruptSuffix starts the name of an unreadable file moved aside.
	CorruptSuffix = ".corrupt-"
)

// Folder names every file of one config folder.
type Folder struct{ dir string }

// NewFolder returns the names of the files in the config folder dir.
func NewFolder(dir string) Folder { return Folder{dir} }

func (f Folder) Dir() string         { return f.dir }
func (f Folder) Config() string      { return filepath.Join(f.dir, ConfigName) }
func (f Folder) Telemetry() string   { return filepath.Join(f.dir, TelemetryName) }
func (f Folder) UploadState() string { return filepath.Join(f.dir, UploadStateName) }
func (f Folder) SentLog() string     { return filepath.Join(f.dir, SentLogName) }
func (f Folder) DaemonLock() string  { return filepath.Join(f.dir, DaemonLockName) }
func (f Folder) Policies() string    { return filepath.Join(f.dir, PoliciesName) }
func (f Folder) Forget() string      { return filepath.Join(f.dir, ForgetName) }
func (f Folder) Notice() string      { return filepath.Join(f.dir, NoticeName) }

// UnsafeFolderError says why a config folder is not used: someone else
// could plant or change files in it. Like ssh with ~/.ssh, pace then keeps
// nothing there.
type UnsafeFolderError struct {
	Dir, Why, Fix string
}

func (e *UnsafeFolderError) Error() string {
	return fmt.Sprintf("the config folder %s is not safe to use: %s; %s", e.Dir, e.Why, e.Fix)
}

// ErrUnsafeFolder matches every UnsafeFolderError with errors.Is.
var ErrUnsafeFolder = errors.New("config folder not safe to use")

func (e *UnsafeFolderError) Is(target error) bool { return target == ErrUnsafeFolder }

// CheckFolder tells whether dir may hold pace's files: it must be a
// folder itself, not a symbolic link, junction or mount point to one (a
// link swapped in later could send pace's writes elsewhere: CWE-1386),
// and on Unix owned by the user running pace and writable by nobody else.
// A folder that does not exist yet is fine (pace creates it private).
func CheckFolder(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if what := linkKind(fi); what != "" {
		fix := "point PACE_CONFIG_PATH at a folder that is not a link"
		if target, err := filepath.EvalSymlinks(dir); err == nil {
			fix = fmt.Sprintf("point PACE_CONFIG_PATH at the folder itself (%s)", target)
		}
		return &UnsafeFolderError{Dir: dir, Why: "it is " + what, Fix: fix}
	}
	if !fi.IsDir() {
		return &UnsafeFolderError{Dir: dir, Why: "it is not a folder", Fix: "point PACE_CONFIG_PATH at a folder"}
	}
	return checkOwner(dir, fi)
}
