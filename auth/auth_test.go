package auth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/broadcast"
)

const (
	tokA = "aaaaaaaaaaaaaaaaaaaaaaaa"
	tokB = "bbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParse(t *testing.T) {
	toks, err := auth.Parse("tokens", "\ufeff# comment\n\n"+tokA+"\n  "+tokB+" name=shop source=shop.log path=/api/ path=/v2/ q=two%20words  \n")
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 {
		t.Fatalf("Parse()=%d tokens, want 2", len(toks))
	}
	if n := toks[0].Name(); n != "line 3" {
		t.Errorf("unnamed token: Name()=%q, want %q", n, "line 3")
	}
	if toks[0].Grant.Scope != nil {
		t.Errorf("unlimited token: scope %v, want nil", toks[0].Grant.Scope)
	}
	g := toks[1].Grant
	if g.Name != "shop" || g.Key == "" || g.Key == toks[0].Grant.Key {
		t.Errorf("grant %+v: want name shop and a key of its own", g)
	}
	want := "path=%2Fapi%2F&path=%2Fv2%2F&q=two+words&source=shop.log"
	if got := g.Scope.String(); got != want {
		t.Errorf("scope %q, want %q", got, want)
	}
	for _, c := range []struct {
		path, source, line string
		match              bool
	}{
		{"/api/x", "shop.log", "GET two words", true},
		{"/v2/x", "shop.log", "two words", true},
		{"/api/x", "blog.log", "two words", false},
		{"/other", "shop.log", "two words", false},
		{"/api/x", "shop.log", "one word", false},
	} {
		r := &broadcast.Record{Parsed: true, Path: c.path, Source: c.source, Line: c.line}
		if got := g.Scope.Match(r); got != c.match {
			t.Errorf("Match(%+v)=%v, want %v", c, got, c.match)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"short":      {"short\n", "tokens:1: the token is shorter than 16"},
		"control":    {tokA + "\x01\n", "not visible ASCII"},
		"duplicate":  {tokA + "\n" + tokA + "\n", "tokens:2: the same token is on line 1"},
		"no equals":  {tokA + " source\n", "want key=value"},
		"unknown":    {tokA + " colour=red\n", `unknown key "colour"`},
		"bad filter": {tokA + " status=abc\n", "bad status"},
		"bad escape": {tokA + " q=%zz\n", "bad %-escape"},
		"dup name":   {tokA + " name=x\n" + tokB + " name=x\n", `the name "x" is on line 1`},
		"empty name": {tokA + " name=\n", "name is empty"},
	} {
		_, err := auth.Parse("tokens", c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse()=%v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), tokA) {
			t.Errorf("%s: the error shows the token: %v", name, err)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileChecksAndReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, tokA+" name=a\n")
	f, err := auth.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		secret string
		ok     bool
	}{{tokA, true}, {tokB, false}, {"", false}, {tokA[:len(tokA)-1], false}, {tokA + "a", false}} {
		if _, ok := f.Check(c.secret); ok != c.ok {
			t.Errorf("Check(%q)=%v, want %v", c.secret, ok, c.ok)
		}
	}
	writeFile(t, path, tokB+" name=b\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if tok, ok := f.Check(tokB); ok && tok.Name() == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not read again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := f.Check(tokA); ok {
		t.Error("a removed token still passes")
	}
	// An empty file refuses everyone; a missing one keeps what was there.
	writeFile(t, path, "# nobody\n")
	time.Sleep(1100 * time.Millisecond)
	if _, ok := f.Check(tokB); ok || f.Tokens() != 0 {
		t.Error("an emptied file still lets a token in")
	}
	if _, err := auth.Load(path, nil); err == nil {
		t.Error("Load of a file with no token: nil error")
	}
	if _, err := auth.Load(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Error("Load of a missing file: nil error")
	}
}

func TestSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, tokA+" name=a\n"+tokB+" name=b\n")
	f, err := auth.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Check(tokA)
	s := auth.NewSessions(time.Hour)
	now := time.Now()
	v, exp := s.Issue(a, now)
	if strings.Contains(v, tokA) || exp.Sub(now) > time.Hour || exp.Sub(now) < time.Hour-time.Second {
		t.Fatalf("Issue()=%q, %v", v, exp)
	}
	if tok, _, ok := s.Check(f, v, now); !ok || tok.Name() != "a" {
		t.Fatalf("Check(fresh)=%v, %v; want token a", tok, ok)
	}
	if _, _, ok := s.Check(f, v, exp); ok {
		t.Error("Check at expiry: ok, want expired")
	}
	if _, _, ok := auth.NewSessions(time.Hour).Check(f, v, now); ok {
		t.Error("a session of another process (key) passes")
	}
	for i := range v {
		b := []byte(v)
		b[i] ^= 0x01
		if _, _, ok := s.Check(f, string(b), now); ok {
			t.Errorf("a session with byte %d changed passes", i)
		}
	}
	for _, bad := range []string{"", "x", v + "A", v[:len(v)-1]} {
		if _, _, ok := s.Check(f, bad, now); ok {
			t.Errorf("Check(%q) passes", bad)
		}
	}
	// Removing the token ends its sessions.
	writeFile(t, path, tokB+" name=b\n")
	time.Sleep(1100 * time.Millisecond)
	if _, _, ok := s.Check(f, v, now); ok {
		t.Error("a session of a removed token still passes")
	}
}
