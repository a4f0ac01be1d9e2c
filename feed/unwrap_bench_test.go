package feed

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/tailer"
)

// BenchmarkNewRecord turns the lines of the Apache test log into records
// as the tailers' lines are, with the default format (auto), plain and in
// each wrapper: the plain case shows what looking for a wrapper costs a
// line that has none.
func BenchmarkNewRecord(b *testing.B) {
	data, err := os.ReadFile("../format/testdata/apache_combined_10k.log")
	if err != nil {
		b.Fatal(err)
	}
	plain := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	wrap := func(f func(string) string) []string {
		out := make([]string, len(plain))
		for i, l := range plain {
			out[i] = f(l)
		}
		return out
	}
	cases := []struct {
		name  string
		lines []string
	}{
		{"plain", plain},
		{"docker", wrap(func(l string) string {
			v, _ := json.Marshal(l + "\n")
			return `{"log":` + string(v) + `,"stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}`
		})},
		{"cri", wrap(func(l string) string { return "2026-12-07T10:00:00.123456789Z stdout F " + l })},
		{"rfc3164", wrap(func(l string) string { return "<190>Dec  7 10:00:00 web1 nginx: " + l })},
		{"rfc5424", wrap(func(l string) string { return "<190>1 2026-12-07T10:00:00.000Z web1 nginx - - - " + l })},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			src := &source{name: "access.log", read: format.MustCompile(format.Auto).NewReader(format.ReaderConfig{})}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				newRecord(src, tailer.Line{Text: c.lines[n%len(c.lines)]}, nil)
				n++
			}
		})
	}
}
