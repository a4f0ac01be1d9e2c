//go:build unix

package feed

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openStdin returns standard input made non-blocking, so that the
// runtime polls it and a read in progress ends at shutdown (a blocking
// read of a quiet pipe would hold Run forever), and a function that puts
// it back as it was: a terminal shared with the shell must not be left
// non-blocking.
func openStdin() (io.Reader, func()) {
	flags, err := unix.FcntlInt(0, unix.F_GETFL, 0)
	if err != nil {
		return os.Stdin, func() {} // no standard input: reads fail at once
	}
	was := flags&unix.O_NONBLOCK != 0
	if !was {
		if err := unix.SetNonblock(0, true); err != nil {
			return os.Stdin, func() {}
		}
	}
	// A File of its own: os.Stdin was made blocking, and is not polled.
	f := os.NewFile(0, "/dev/stdin")
	return f, func() {
		if !was {
			unix.SetNonblock(0, false)
		}
		// Not Close: fd 0 stays standard input. The File is kept alive
		// instead (its finalizer would close fd 0).
		keepStdin = append(keepStdin, f)
	}
}

// keepStdin holds the Files made for standard input, so that none is
// finalized (which would close fd 0).
var keepStdin []*os.File
