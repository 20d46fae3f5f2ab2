// Package watch tells when chosen files in a folder change, with fsnotify
// and no polling, and keeps doing so when the folder itself is deleted and
// made again.
package watch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports changes to files named in Names inside Dir.
type Watcher struct {
	// C receives a value after one or more changes; values are coalesced,
	// so a slow reader sees one value for many changes, never none.
	C <-chan struct{}
	// Errors receives watcher errors (for the log); never blocks the watch.
	Errors <-chan error

	dir     string
	names   []string
	fs      *fsnotify.Watcher
	c       chan struct{}
	errs    chan error
	watched string // dir, or the nearest existing ancestor while dir is gone
}

// Start watches dir until ctx is done. It watches the folder, not the
// files: writers replace files by rename, and a watch on a replaced inode
// goes silent.
func Start(ctx context.Context, dir string, names ...string) (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	c, errs := make(chan struct{}, 1), make(chan error, 1)
	w := &Watcher{C: c, Errors: errs, dir: filepath.Clean(dir), names: names, fs: fsw, c: c, errs: errs}
	if err := w.arm(); err != nil {
		fsw.Close()
		return nil, err
	}
	go w.loop(ctx)
	return w, nil
}

// arm watches dir if it exists, else its nearest existing ancestor, to see
// dir come back. It checks again after adding a watch, in case the folder
// appeared in between.
func (w *Watcher) arm() error {
	for {
		target := w.nearest()
		if target == w.watched {
			return nil
		}
		if w.watched != "" {
			w.fs.Remove(w.watched) // may already be gone with the folder
		}
		if err := w.fs.Add(target); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				w.watched = ""
				continue // gone in the meantime: look for the nearest folder again
			}
			return err
		}
		w.watched = target
	}
}

func (w *Watcher) nearest() string {
	target := w.dir
	for {
		if fi, err := os.Stat(target); err == nil && fi.IsDir() {
			return target
		}
		parent := filepath.Dir(target)
		if parent == target {
			return target
		}
		target = parent
	}
}

func (w *Watcher) loop(ctx context.Context) {
	defer w.fs.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.report(err)
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.handle(ev)
		}
	}
}

func (w *Watcher) handle(ev fsnotify.Event) {
	if w.watched != w.dir {
		// Waiting for dir: a creation on the way may bring it back, and the
		// ancestor we watch may itself go.
		if ev.Has(fsnotify.Create) || filepath.Clean(ev.Name) == w.watched {
			if filepath.Clean(ev.Name) == w.watched {
				w.watched = ""
			}
			w.rearm()
		}
		return
	}
	name := filepath.Clean(ev.Name)
	if name == w.dir && (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) {
		w.watched = "" // the kernel dropped the watch with the folder
		w.rearm()
		w.notify()
		return
	}
	if filepath.Dir(name) == w.dir && slices.Contains(w.names, filepath.Base(name)) && ev.Op != fsnotify.Chmod {
		w.notify()
	}
}

// rearm follows dir as it disappears or comes back; when it is back, the
// files in it may be new, so that counts as a change.
func (w *Watcher) rearm() {
	if err := w.arm(); err != nil {
		w.report(err)
		return
	}
	if w.watched == w.dir {
		w.notify()
	}
}

func (w *Watcher) notify() {
	select {
	case w.c <- struct{}{}:
	default: // a change is already pending
	}
}

func (w *Watcher) report(err error) {
	select {
	case w.errs <- err:
	default:
	}
}
