package redact_test

import (
	"os"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
)

// BenchmarkRecord masks the records of a real Apache log with host, query
// and params: what redaction adds to each line the tailer reads.
func BenchmarkRecord(b *testing.B) {
	data, err := os.ReadFile("../format/testdata/apache_combined_10k.log")
	if err != nil {
		b.Fatal(err)
	}
	var recs []record.Record
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		recs = append(recs, format.Parse(l))
	}
	red, err := redact.New(redact.Options{Host: redact.HostPrefix, Query: true, Params: redact.DefaultParams})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range recs {
			r := recs[i]
			red.Record(&r)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
}
