package tailer

import (
	"os"
	"syscall"
)

// readOnce reads from f at off with a single pread. os.File.ReadAt makes a
// second one after every short read, to find the end of the file, and a
// follower's read is nearly always short: it takes what the log gained
// since the last one, far less than its buffer. A short read of a regular
// file already means its end; a rare short one for another reason only
// leaves the rest to the next read.
func readOnce(f *os.File, buf []byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err // the file is closed
	}
	var (
		n    int
		rerr error
	)
	if err := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Pread(int(fd), buf, off)
			if rerr != syscall.EINTR {
				return true
			}
		}
	}); err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, &os.PathError{Op: "read", Path: f.Name(), Err: rerr}
	}
	return n, nil
}
