package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/record"
)

// A token line may limit the token to slow requests, as min_duration= does
// on a stream: records that took at least that long; records without a
// duration never.
func TestParseMinDuration(t *testing.T) {
	toks, err := auth.Parse("tokens", tokA+" name=slow min_duration=500ms\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d     record.Duration
		match bool
	}{
		{record.Took(500 * time.Millisecond), true},
		{record.Took(3 * time.Second), true},
		{record.Took(499 * time.Millisecond), false},
		{record.Duration{}, false}, // the line does not say
	} {
		r := &record.Record{Parsed: true, Status: 200, Source: "access.log", Duration: c.d}
		if got := toks[0].Grant.Scope.Match(r); got != c.match {
			t.Errorf("Match(duration %+v)=%v, want %v", c.d, got, c.match)
		}
	}
	_, err = auth.Parse("tokens", tokA+" min_duration=-1s\n")
	if err == nil || !strings.Contains(err.Error(), `tokens:1: bad min_duration "-1s"`) {
		t.Errorf("Parse(min_duration=-1s)=%v, want the line and the reason", err)
	}
}
