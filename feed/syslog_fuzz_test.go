package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzSyslogFraming: whatever a TCP sender writes, newline and
// octet-counted framing return messages no longer than the limit and end
// at the end of the stream, without panicking or looping.
func FuzzSyslogFraming(f *testing.F) {
	for _, s := range []string{
		"<190>Dec  7 10:00:00 web1 nginx: a\n<190>x\r\n",
		"5 hello3 abc",
		"99999999999 x",
		"12 short",
		"0 1 x",
		"x\x00\n\n",
		strings.Repeat("y", 100) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 16
		for _, read := range []func(*bufio.Reader, int, *[]byte) (string, bool, error){readLine, readCounted} {
			r := bufio.NewReaderSize(bytes.NewReader(data), limit+1)
			var buf []byte
			for n := 0; ; n++ {
				msg, _, err := read(r, limit, &buf)
				if err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "framing") {
						t.Fatalf("error %v", err)
					}
					break
				}
				if len(msg) > limit {
					t.Fatalf("message of %d bytes past the limit %d: %q", len(msg), limit, msg)
				}
				if n > len(data) {
					t.Fatalf("%d messages from %d bytes", n, len(data))
				}
			}
		}
	})
}
