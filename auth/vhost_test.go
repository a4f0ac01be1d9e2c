package auth_test

import (
	"strings"
	"testing"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/record"
)

// A token line may limit the token to some virtual hosts, as vhost= does
// on a stream: the host part without a port, host and port with one.
func TestParseVHost(t *testing.T) {
	toks, err := auth.Parse("tokens", tokA+" name=shop vhost=shop.example.com,api.example.com:443\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		vhost string
		match bool
	}{
		{"shop.example.com:443", true},
		{"SHOP.example.com:80", true},
		{"api.example.com:443", true},
		{"api.example.com:80", false},
		{"www.example.com:443", false},
		{"", false}, // a line without a virtual host
	} {
		r := &record.Record{Parsed: true, VHost: c.vhost, Status: 200, Source: "access.log"}
		if got := toks[0].Grant.Scope.Match(r); got != c.match {
			t.Errorf("Match(vhost %q)=%v, want %v", c.vhost, got, c.match)
		}
	}
	_, err = auth.Parse("tokens", tokA+" vhost=shop.example.com:https\n")
	if err == nil || !strings.Contains(err.Error(), `tokens:1: bad vhost "shop.example.com:https"`) {
		t.Errorf("Parse(vhost=shop.example.com:https)=%v, want the line and the reason", err)
	}
}
