package auth_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/record"
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
		r := &record.Record{Parsed: true, Path: c.path, Source: c.source, Line: c.line}
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
	a, _ := f.Check(tokA)
	if f.Reload() {
		t.Error("Reload() of an unchanged file=true, want false")
	}
	// Requests never read the file: a change is seen by Reload only.
	writeFile(t, path, tokA+" name=a\n"+tokB+" name=b\n")
	if _, ok := f.Check(tokB); ok {
		t.Error("Check read the file: it must only ever take the tokens in force")
	}
	if !f.Reload() {
		t.Fatal("Reload() of a changed file=false, want true")
	}
	if tok, ok := f.Check(tokB); !ok || tok.Name() != "b" {
		t.Fatal("the changed file was not read again")
	}
	// A line left as it was keeps its grant: the streams opened with it go on.
	if !f.Has(a.Grant) {
		t.Error("Has(unchanged token)=false, want true")
	}
	// A token whose filter changed is a new grant.
	writeFile(t, path, tokA+" name=a status=5xx\n"+tokB+" name=b\n")
	f.Reload()
	if f.Has(a.Grant) {
		t.Error("Has(token whose filter changed)=true, want false")
	}
	writeFile(t, path, tokB+" name=b\n")
	f.Reload()
	if _, ok := f.Check(tokA); ok || f.Has(a.Grant) {
		t.Error("a removed token still passes")
	}
	// An empty file refuses everyone; a missing one keeps what was there.
	writeFile(t, path, "# nobody\n")
	f.Reload()
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

// A FIFO (or any file that is not a regular file) in place of the token
// file is refused without a read that would wait for a writer for ever:
// by Load, and by Reload, which keeps the tokens in force.
func TestFileRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	writeFile(t, path, tokA+" name=a\n")
	f, err := auth.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := auth.Load(fifo, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Load(FIFO)=%v, want \"not a regular file\"", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load(FIFO) waits on the FIFO")
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	go func() {
		f.Reload()
		done <- nil
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Reload waits on a FIFO renamed over the token file")
	}
	if _, ok := f.Check(tokA); !ok {
		t.Error("after a FIFO was renamed over the file, the previous token no longer passes")
	}
	if _, err := auth.ReadFile("/dev/null"); err == nil {
		t.Error("ReadFile(/dev/null)=nil error, want not a regular file")
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
	v, sess := s.Issue(a, now)
	exp := sess.Expires
	if strings.Contains(v, tokA) || exp.Sub(now) > time.Hour || exp.Sub(now) < time.Hour-time.Second {
		t.Fatalf("Issue()=%q, %v", v, exp)
	}
	if tok, got, ok := s.Check(f, v, now); !ok || tok.Name() != "a" || got != sess {
		t.Fatalf("Check(fresh)=%v, %v, %v; want token a, %v", tok, got, ok, sess)
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
	// Renewed: the same session, a cookie that lasts longer; the session
	// lives as long as its newest cookie.
	later := now.Add(40 * time.Minute)
	v2, renewed, ok := s.Renew(a, sess, later)
	if !ok || renewed.ID != sess.ID || !renewed.Expires.After(exp) || v2 == v {
		t.Fatalf("Renew()=%v, %v; want the same session, later", renewed, ok)
	}
	if !s.Live(sess.ID, exp.Add(time.Minute)) {
		t.Error("a renewed session ends with its first cookie")
	}
	// Removing the token ends its sessions.
	writeFile(t, path, tokB+" name=b\n")
	f.Reload()
	if _, _, ok := s.Check(f, v, now); ok {
		t.Error("a session of a removed token still passes")
	}
}

// Logging out ends a session for good: every cookie of it, the renewed
// ones too, is refused from then on.
func TestSessionEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeFile(t, path, tokA+" name=a\n")
	f, err := auth.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Check(tokA)
	s := auth.NewSessions(time.Hour)
	now := time.Now()
	v, sess := s.Issue(a, now)
	v2, _, _ := s.Renew(a, sess, now.Add(time.Second))
	other, _ := s.Issue(a, now)
	if s.Sweep(now) {
		t.Error("Sweep() with nothing ended=true")
	}
	if id, ok := s.End(v2); !ok || id != sess.ID {
		t.Fatalf("End()=%v, want the session's id", ok)
	}
	for _, c := range []string{v, v2} {
		if _, _, ok := s.Check(f, c, now); ok {
			t.Error("a cookie of a session logged out still passes")
		}
	}
	if _, _, ok := s.Renew(a, sess, now); ok {
		t.Error("a session logged out was renewed")
	}
	if _, _, ok := s.Check(f, other, now); !ok {
		t.Error("logging out one session ended another")
	}
	if _, ok := s.End(v); ok {
		t.Error("End() of a session ended already: true")
	}
	if !s.Sweep(now) || s.Sweep(now) {
		t.Error("Sweep() after a logout: want true once")
	}
	// Expired sessions are forgotten by Sweep, and reported.
	if !s.Sweep(now.Add(2*time.Hour)) || s.Live(sess.ID, now) {
		t.Error("Sweep() past every expiry: want true, and no session left")
	}
}
