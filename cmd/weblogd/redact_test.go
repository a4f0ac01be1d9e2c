package main_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real program with --redact host,query,params: lines with addresses
// and secrets planted in every field (the user agent, trailing fields,
// glued to words, IPv6, a line that does not parse) leave nothing of them
// on ndjson or the raw TCP stream.
func TestRedactOnTheWire(t *testing.T) {
	log := filepath.Join(t.TempDir(), "access.log")
	appendLines(t, log) // exists, empty: no backfill
	p := start(t, nil, "--log", log, "--http", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--tick", "0",
		"--redact", "host,query,params")

	c, err := net.Dial("tcp", p.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(waitFor))
	tcp := bufio.NewReader(c)
	if l, err := tcp.ReadString('\n'); err != nil || l != "<hits>\n" {
		t.Fatalf("raw TCP: %q, %v; want <hits>", l, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.http+"/hits?format=ndjson", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ndjson: %s", resp.Status)
	}
	nd := bufio.NewReader(resp.Body)
	// The subscription exists once the stream's headers are in; the raw
	// client's once its <hits> is.

	lines := []string{
		`198.51.100.76 - - [21/Nov/2026:10:00:00 +0100] "GET /login?token=SECRETA2&next=/x HTTP/1.1" 200 512 ` +
			`"https://ref.example/?sid=SECRETA3" ` +
			`"Mozilla/5.0 (compatible; bot/1.0; +http://bot.example/?token=SECRETA1) via 198.51.100.77" ` +
			`"X-Real-IP:198.51.100.78" host:198.51.100.79 "addr":198.51.100.83 fwd=[2001:db8:1:2::5]:443 #access_token=SECRETA4`,
		`2001:db8:1:2::6 - - [21/Nov/2026:10:00:01 +0100] "GET /a HTTP/1.1" 404 0 "-" "probe host:2001:db8:1:2::7 key=SECRETA5"`,
		`garbage "addr":198.51.100.80 /x?token=SECRETA6 host:2001:db8:1:2::8`,
	}
	planted := []string{"SECRETA", "198.51.100.7", "198.51.100.8", "2001:db8:1:2:", "?"}
	masked := []string{`198.51.100.0`, `2001:db8:1::`, `X-Real-IP:198.51.100.0`, `"addr":198.51.100.0`, "/login", "access_token=redacted"}
	appendLines(t, log, lines...)

	var wire strings.Builder
	for range lines {
		l, err := tcp.ReadString('\n')
		if err != nil {
			t.Fatalf("raw TCP: %v after %q", err, wire.String())
		}
		wire.WriteString("tcp: " + l)
	}
	for range lines {
		l, err := nd.ReadString('\n')
		if err != nil {
			t.Fatalf("ndjson: %v after %q", err, wire.String())
		}
		wire.WriteString("ndjson: " + l)
	}
	got := wire.String()
	for _, s := range planted {
		if strings.Contains(got, s) {
			t.Errorf("%q is on the wire:\n%s", s, got)
		}
	}
	for _, s := range masked {
		for _, stream := range []string{"tcp: ", "ndjson: "} {
			var in string
			for _, l := range strings.SplitAfter(got, "\n") {
				if strings.HasPrefix(l, stream) {
					in += l
				}
			}
			if !strings.Contains(strings.NewReplacer("&quot;", `"`, `\"`, `"`).Replace(in), s) {
				t.Errorf("%s%q is not on the wire:\n%s", stream, s, in)
			}
		}
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
