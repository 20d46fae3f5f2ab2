//go:build windows

package lockedfile

import "io/fs"

// fileID is not cheap to get on Windows; time and size tell changes apart
// well enough there.
func fileID(fs.FileInfo) any { return nil }

// stampsContent is false on Windows: a waiter that has the file open, even
// for a moment, makes the holder's rename of it fail (Go opens files
// without FILE_SHARE_DELETE), and NTFS keeps times to 100 ns.
const stampsContent = false
