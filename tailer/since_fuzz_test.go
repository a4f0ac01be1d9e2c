package tailer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// FuzzSince: whatever the file holds, Since neither fails nor hangs, its
// offsets are in order within the file, every line Lines gives is
// complete, within the limit, and they follow one another to the end.
func FuzzSince(f *testing.F) {
	f.Add([]byte("2026-12-08T00:00:00Z a\n2026-12-08T01:00:00Z b\n2026-12-08T02:00:00Z c\n"), int64(3600), uint16(0))
	f.Add([]byte("garbage\n\n\n2026-12-08T02:00:00Z c"), int64(0), uint16(5))
	f.Add([]byte("2026-12-08T03:00:00Z x\r\n2026-12-08T01:00:00Z y\n\xff\xfe\n"), int64(7200), uint16(3))
	f.Add([]byte(""), int64(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, fromSec int64, limit uint16) {
		p := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		from := t0.Add(time.Duration(fromSec%(1<<40)) * time.Second)
		max := int(limit%200) + 1
		s, err := tailer.Since(p, from, stampOf, max)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Size != int64(len(data)) || s.From < 0 || s.From > s.Start || s.Start > s.Size {
			t.Fatalf("size %d, From %d, Start %d for %d bytes", s.Size, s.From, s.Start, len(data))
		}
		if s.From > 0 && s.From < s.Size && data[s.From-1] != '\n' {
			t.Fatalf("From %d is neither a line start nor the end", s.From)
		}
		prev := s.From
		err = s.Lines(s.Size, func(l tailer.Line) bool {
			if l.Offset <= prev || l.Offset > s.Size || data[l.Offset-1] != '\n' {
				t.Fatalf("a line ends at %d after %d: not a line of the file", l.Offset, prev)
			}
			whole := strings.TrimSuffix(string(data[prev:l.Offset-1]), "\r")
			if len(l.Text) > max || (!l.Truncated && l.Text != whole) || (l.Truncated && !strings.HasPrefix(whole, l.Text)) {
				t.Fatalf("line %q (truncated %v) of %q, limit %d", l.Text, l.Truncated, whole, max)
			}
			prev = l.Offset
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if rest := data[prev:]; strings.Contains(string(rest), "\n") {
			t.Fatalf("Lines stopped at %d with lines left: %q", prev, rest)
		}
	})
}
