package tailer_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/weblogd/weblogd/tailer"
)

func TestLast(t *testing.T) {
	t.Run("Small", func(t *testing.T) {
		for _, c := range []struct {
			name string
			data string
			n    int
			want []tailer.Line
			end  int64
		}{
			{"TrailingNewline", "a\nbb\nccc\n", 2, []tailer.Line{{Text: "bb", Offset: 5}, {Text: "ccc", Offset: 9}}, 9},
			{"PartialLastLine", "a\nbb\nccc", 2, []tailer.Line{{Text: "a", Offset: 2}, {Text: "bb", Offset: 5}}, 5},
			{"MoreThanTheFile", "a\nbb\nccc\n", 10, []tailer.Line{{Text: "a", Offset: 2}, {Text: "bb", Offset: 5}, {Text: "ccc", Offset: 9}}, 9},
			{"Exactly", "a\nbb\n", 2, []tailer.Line{{Text: "a", Offset: 2}, {Text: "bb", Offset: 5}}, 5},
			{"Zero", "a\nbb\nccc", 0, nil, 5},
			{"Empty", "", 5, nil, 0},
			{"EmptyZero", "", 0, nil, 0},
			{"NoNewline", "partial", 5, nil, 0},
			{"OnlyNewlines", "\n\n\n", 2, []tailer.Line{{Text: "", Offset: 2}, {Text: "", Offset: 3}}, 3},
			{"CRLF", "a\r\nb\r\n\r\n", 3, []tailer.Line{{Text: "a", Offset: 3}, {Text: "b", Offset: 6}, {Text: "", Offset: 8}}, 8},
		} {
			t.Run(c.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "access.log")
				writeFile(t, path, c.data)
				got, end, err := tailer.Last(path, c.n, 0)
				if err != nil {
					t.Fatalf("Last()=%v, want nil", err)
				}
				if end.Offset != c.end {
					t.Fatalf("Last() end=%d, want %d", end.Offset, c.end)
				}
				assertLines(t, got, c.want)
			})
		}
	})

	t.Run("LongLine", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		long := strings.Repeat("y", 200<<10)
		writeFile(t, path, "before\n"+long+"\nafter\n")
		got, end, err := tailer.Last(path, 3, 0)
		if err != nil {
			t.Fatalf("Last()=%v, want nil", err)
		}
		size := int64(7 + len(long) + 1 + 6)
		if end.Offset != size {
			t.Fatalf("Last() end=%d, want %d", end.Offset, size)
		}
		assertLines(t, got, []tailer.Line{
			{Text: "before", Offset: 7},
			{Text: long[:tailer.DefaultMaxLineBytes], Offset: size - 6, Truncated: true},
			{Text: "after", Offset: size},
		})
	})

	t.Run("CutBacksOffToRuneStart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "123456789€uro\n12345678😀\n1234567€\n1234567890\r\n12345678901\r\n")
		got, _, err := tailer.Last(path, 5, 10)
		if err != nil {
			t.Fatalf("Last()=%v, want nil", err)
		}
		assertLines(t, got, []tailer.Line{
			{Text: "123456789", Offset: 16, Truncated: true},
			{Text: "12345678", Offset: 29, Truncated: true},
			{Text: "1234567€", Offset: 40},
			{Text: "1234567890", Offset: 52},
			{Text: "1234567890", Offset: 65, Truncated: true},
		})
	})

	t.Run("MatchesReference", func(t *testing.T) {
		// Random lines over many 64 KiB chunks, with multi-byte and invalid
		// UTF-8, CRLF, empty and very long lines, checked against a simple
		// forward reading of the whole file.
		path := filepath.Join(t.TempDir(), "access.log")
		data := randomLog(1, 2<<20)
		for _, partial := range []string{"", "partial last line"} {
			writeFile(t, path, data+partial)
			for _, maxBytes := range []int{0, 50, 3} {
				all, wantEnd := referenceLines(data, maxBytes)
				for _, n := range []int{0, 1, 2, 3, 100, 1000, len(all) - 1, len(all), len(all) + 10} {
					got, end, err := tailer.Last(path, n, maxBytes)
					if err != nil {
						t.Fatalf("Last(n=%d, max=%d)=%v, want nil", n, maxBytes, err)
					}
					if end.Offset != wantEnd {
						t.Fatalf("Last(n=%d, max=%d) end=%d, want %d", n, maxBytes, end.Offset, wantEnd)
					}
					want := all[max(0, len(all)-n):]
					if n == 0 {
						want = nil
					}
					assertLines(t, got, want)
				}
			}
		}
	})

	t.Run("EndIsWhereToFollow", func(t *testing.T) {
		// The partial last line is not in the backlog, and following from
		// end reads it whole once it completes: nothing missed or doubled.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "one\ntwo\nthr")
		got, end, err := tailer.Last(path, 10, 0)
		if err != nil {
			t.Fatalf("Last()=%v, want nil", err)
		}
		assertLines(t, got, []tailer.Line{{Text: "one", Offset: 4}, {Text: "two", Offset: 8}})

		r := startRun(t, tailer.Config{Path: path, Resume: []tailer.Position{end}})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "ee\nfour\n")
		assertLines(t, r.waitLines(t, 2), []tailer.Line{{Text: "three", Offset: 14}, {Text: "four", Offset: 19}})
	})

	t.Run("MissingFile", func(t *testing.T) {
		_, _, err := tailer.Last(filepath.Join(t.TempDir(), "nope.log"), 10, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Last()=%v, want %v", err, fs.ErrNotExist)
		}
	})

	t.Run("BadArguments", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "a\n")
		if _, _, err := tailer.Last(path, -1, 0); err == nil {
			t.Fatal("Last(n=-1)=nil error, want an error")
		}
		if _, _, err := tailer.Last(path, 1, -1); err == nil {
			t.Fatal("Last(max=-1)=nil error, want an error")
		}
		if _, _, err := tailer.Last(t.TempDir(), 1, 0); err == nil {
			t.Fatal("Last(directory)=nil error, want an error")
		}
	})
}

// TestRunMatchesReference follows the random log from its start and checks
// every line and offset Run reports against a forward reading.
func TestRunMatchesReference(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	data := randomLog(2, 1<<20)
	writeFile(t, path, data+"partial")
	want, _ := referenceLines(data, 50)

	r := startRun(t, tailer.Config{Path: path, MaxLineBytes: 50})
	got := r.waitLines(t, len(want))
	assertLines(t, got, want)
}

func BenchmarkLast(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	const size = 50 << 20
	const line = `203.0.113.7 - - [02/Jan/2006:15:04:05 -0700] "GET /index.html?q=%d HTTP/1.1" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"` + "\n"
	var block bytes.Buffer
	for i := 0; block.Len() < 1<<20; i++ {
		fmt.Fprintf(&block, line, i)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	for written := 0; written < size; written += block.Len() {
		if _, err := f.Write(block.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	for b.Loop() {
		lines, _, err := tailer.Last(path, 100, 0)
		if err != nil {
			b.Fatal(err)
		}
		if len(lines) != 100 {
			b.Fatalf("Last()=%d lines, want 100", len(lines))
		}
	}
}

// randomLog returns about size bytes of random complete lines.
func randomLog(seed uint64, size int) string {
	rng := rand.New(rand.NewPCG(seed, seed))
	pieces := []string{"a", "b", " ", "/", "\"", "é", "€", "😀", "\xa9", "\xff", "\xe2\x82", "\r", "0123456789"}
	var sb strings.Builder
	for sb.Len() < size {
		n := rng.IntN(120)
		switch rng.IntN(50) {
		case 0:
			n = 0
		case 1:
			n = 10_000 + rng.IntN(90_000) // longer than a read chunk, sometimes
		}
		for range n {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if rng.IntN(4) == 0 {
			sb.WriteString("\r")
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// referenceLines reads data forward, the obvious way, into the lines Last
// and Run must give when cutting to limit bytes (0 for the default).
func referenceLines(data string, limit int) (lines []tailer.Line, end int64) {
	if limit == 0 {
		limit = tailer.DefaultMaxLineBytes
	}
	for {
		i := strings.IndexByte(data[end:], '\n')
		if i < 0 {
			return lines, end
		}
		text := strings.TrimSuffix(data[end:end+int64(i)], "\r")
		end += int64(i) + 1
		kept := referenceCut(text, limit)
		lines = append(lines, tailer.Line{Text: kept, Offset: end, Truncated: len(kept) < len(text)})
	}
}

// referenceCut keeps the longest run of whole UTF-8 sequences (an invalid
// byte counts as one) that fits in limit bytes.
func referenceCut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := 0
	for i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		if i+size > limit {
			break
		}
		i += size
	}
	return s[:i]
}
