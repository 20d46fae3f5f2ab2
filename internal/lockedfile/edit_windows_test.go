//go:build windows

package lockedfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every edit moves the file aside (as a reader of bad content does) while
// other writers wait for the lock: no waiter holds the file open, so no
// rename fails. Windows renames no open file. (Run under wine by
// cmd/pace-telemetryd's TestWindowsUnderWine; t.TempDir's cleanup does
// not work there, hence a folder of its own.)
func TestEditMovesAsideWhileOthersWait(t *testing.T) {
	dir, err := os.MkdirTemp("", "lockedfile")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "f")
	os.WriteFile(path, []byte("bad"), 0o600)
	const writers, edits = 8, 50
	var wg sync.WaitGroup
	var moved, failed atomic.Int64
	var firstErr atomic.Value
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < edits; i++ {
				err := EditInPlace(path, time.Second, 10*time.Second, 1<<20, 0o600, func(data []byte, readErr error) ([]byte, error) {
					if readErr == nil {
						if err := os.Rename(path, path+fmt.Sprintf(".aside-%d", moved.Add(1))); err != nil {
							return nil, err
						}
					}
					return []byte("bad"), nil
				})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d edits failed; the first: %v", n, writers*edits, firstErr.Load())
	}
}
