package transports_test

import (
	"net/url"
	"testing"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// A filtered subscriber whose filter passes every record of a batch writes
// the batch's shared encoding, not a copy of its own.
func TestRenderSharesWhenEveryRecordMatches(t *testing.T) {
	recs := []*record.Record{
		{Seq: 1, Parsed: true, Status: 404, Line: "a"},
		{Seq: 2, Parsed: true, Status: 200, Line: "b"},
		{Seq: 3, Parsed: true, Status: 404, Line: "c"},
	}
	b := broadcast.NewBatch(recs)
	filter := func(q string) *transports.Filter {
		v, _ := url.ParseQuery(q)
		f, err := transports.ParseFilter(func(n string) []string { return v[n] })
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	shared := transports.XMLLines(b)
	cases := []struct {
		query     string
		wantSeqs  []uint64
		wantShare bool
	}{
		{"", []uint64{1, 2, 3}, true},
		{"status=200,404", []uint64{1, 2, 3}, true},
		{"status=404", []uint64{1, 3}, false},
		{"status=200", []uint64{2}, false},
		{"status=500", nil, false},
	}
	for _, c := range cases {
		f := filter(c.query)
		got, all := transports.Matching(b, f)
		if all != c.wantShare || len(got) != len(c.wantSeqs) {
			t.Fatalf("Matching(%q)=%d records, all=%v; want %v, all=%v", c.query, len(got), all, c.wantSeqs, c.wantShare)
		}
		for i, r := range got {
			if r.Seq != c.wantSeqs[i] {
				t.Fatalf("Matching(%q)[%d].Seq=%d, want %d", c.query, i, r.Seq, c.wantSeqs[i])
			}
		}
		out, n := transports.Render(b, f, transports.XMLLines, transports.AppendXMLLines)
		if n != len(c.wantSeqs) {
			t.Fatalf("Render(%q) holds %d records, want %d", c.query, n, len(c.wantSeqs))
		}
		isShared := len(out) > 0 && &out[0] == &shared[0]
		if isShared != c.wantShare {
			t.Fatalf("Render(%q) shared the batch encoding: %v, want %v", c.query, isShared, c.wantShare)
		}
	}
}
