package auth_test

import (
	"strings"
	"testing"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/record"
)

// A token line may limit the token to the records of some nodes, as
// node= does on a stream: exact names, OR within the key, AND with the
// other keys; records read from a local log (no node) are not among them.
func TestParseNode(t *testing.T) {
	toks, err := auth.Parse("tokens", tokA+" name=fleet node=web-1,web-2 status=5xx\n"+tokB+" node=web-3 node=web-4\n")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := toks[0].Grant.Scope.String(), "node=web-1%2Cweb-2&status=5xx"; got != want {
		t.Errorf("scope %q, want %q", got, want)
	}
	for _, c := range []struct {
		tok    int
		node   string
		status int
		match  bool
	}{
		{0, "web-1", 500, true},
		{0, "web-2", 503, true},
		{0, "web-1", 200, false},
		{0, "web-3", 500, false},
		{0, "", 500, false}, // a local record
		{1, "web-3", 200, true},
		{1, "web-4", 404, true},
		{1, "web-1", 200, false},
	} {
		r := &record.Record{Parsed: true, Node: c.node, Status: c.status, Source: "access.log"}
		if got := toks[c.tok].Grant.Scope.Match(r); got != c.match {
			t.Errorf("token %d: Match(node %q, status %d)=%v, want %v", c.tok, c.node, c.status, got, c.match)
		}
	}
	_, err = auth.Parse("tokens", tokA+" node=\n")
	if err == nil || !strings.Contains(err.Error(), "tokens:1: node has an empty value") {
		t.Errorf("Parse(node=)=%v, want the line and the reason", err)
	}
}
