//go:build !unix

package feed

import (
	"io"
	"os"
)

// openStdin returns standard input as it is: a read in progress at
// shutdown is left behind.
func openStdin() (io.Reader, func()) { return os.Stdin, func() {} }
