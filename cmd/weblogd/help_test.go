package main

import (
	"bytes"
	"flag"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// helpLine is how a reader (and the documentation's own test) finds a
// flag in --help: its name right after the leading spaces and dashes.
var helpLine = regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]+)`)

// Every flag is in exactly one group of --help, every name there is a
// flag, a switch has no value word and any other flag has one; and the
// printed help names exactly the flags, in the groups' order, so that a
// new flag cannot be left out or land under "Other".
func TestHelpGroupsEveryFlag(t *testing.T) {
	fs := newFlagSet(&options{}, io.Discard)
	checkHelpGroups(t, fs, serverHelp)

	var titles []string
	for _, g := range serverHelp {
		titles = append(titles, g.title)
	}
	want := []string{"Following", "Statistics", "Other ways in", "Streams and HTTP", "Limits", "Security", "Redaction", "Fleet", "TLS", "Logging and process", "Demo"}
	if !slices.Equal(titles, want) {
		t.Errorf("groups %q, want %q", titles, want)
	}

	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.Usage()
	var order []string
	for _, g := range serverHelp {
		for _, f := range g.flags {
			order = append(order, f.name)
		}
	}
	checkHelpText(t, out.String(), order)
	for _, s := range []string{"Usage: weblogd --log PATH [flags]\n", "\nFollowing:\n  --log PATH\n      access log to follow",
		"  --tick DURATION\n", "(default 50ms)", "(default info)", "(default text)", "(default 1h)", "(default 5s)", "(default /)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("--help does not say %q", s)
		}
	}
	// No default where there is none: an empty string, false, no list.
	for _, name := range []string{"log", "state", "auth-metrics", "token-file", "redact", "demo"} {
		if d := helpDefault(fs.Lookup(name)); d != "" {
			t.Errorf("--%s: default %q in --help, want none", name, d)
		}
	}
}

// The healthcheck's --help lists its flags the same way.
func TestHealthcheckHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := healthcheck([]string{"--help"}, func(string) string { return "" }, &out, &errOut); code != 0 {
		t.Fatalf("healthcheck --help: exit %d, %s", code, errOut.String())
	}
	var order []string
	for _, g := range healthHelp {
		for _, f := range g.flags {
			order = append(order, f.name)
		}
	}
	checkHelpText(t, out.String(), order)
	if !strings.Contains(out.String(), "\n  --timeout DURATION\n") || !strings.Contains(out.String(), "(default 2s)") {
		t.Errorf("healthcheck --help:\n%s", out.String())
	}
}

func checkHelpGroups(t *testing.T, fs *flag.FlagSet, groups []helpGroup) {
	t.Helper()
	seen := map[string]string{}
	for _, g := range groups {
		for _, hf := range g.flags {
			f := fs.Lookup(hf.name)
			if f == nil {
				t.Errorf("group %s lists --%s, which is no flag", g.title, hf.name)
				continue
			}
			if was, dup := seen[hf.name]; dup {
				t.Errorf("--%s is in group %s and in group %s", hf.name, was, g.title)
			}
			seen[hf.name] = g.title
			b, isSwitch := f.Value.(interface{ IsBoolFlag() bool })
			isSwitch = isSwitch && b.IsBoolFlag()
			if isSwitch != (hf.value == "") {
				t.Errorf("--%s: value word %q; a switch has none, any other flag one", hf.name, hf.value)
			}
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if seen[f.Name] == "" {
			t.Errorf("--%s is in no group of --help: add it to the group of its subject", f.Name)
		}
	})
}

// checkHelpText: the flags --help names are exactly order, and nothing
// is left under "Other".
func checkHelpText(t *testing.T, out string, order []string) {
	t.Helper()
	var named []string
	for _, m := range helpLine.FindAllStringSubmatch(out, -1) {
		named = append(named, m[1])
	}
	if !slices.Equal(named, order) {
		t.Errorf("--help names the flags\n%q\nwant\n%q\n%s", named, order, out)
	}
	if strings.Contains(out, "\nOther:\n") {
		t.Errorf("--help has flags in no group:\n%s", out)
	}
}

// wrap keeps every word, in order, and lines within the width unless a
// word (with the dashed words it carries) is longer; no line starts with a
// dash.
func TestWrap(t *testing.T) {
	words := strings.Fields("needs a file for --publish and --subscribe -x --y z, and a-very-long-word-that-fits-on-no-line-at-all-whatever-the-width")
	for width := 10; width <= 80; width++ {
		lines := wrap(words, 4, width)
		if got := strings.Join(strings.Fields(strings.Join(lines, " ")), " "); got != strings.Join(words, " ") {
			t.Fatalf("width %d: words %q, want %q", width, got, strings.Join(words, " "))
		}
		for i, l := range lines {
			if !strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "    -") {
				t.Errorf("width %d: line %q", width, l)
			}
			fields := strings.Fields(l)
			if len(l) > width && len(fields) > 1 && !strings.HasPrefix(fields[len(fields)-1], "-") {
				t.Errorf("width %d: line %q is longer than the width", width, l)
			}
			if i+1 < len(lines) && len(l)+1+len(firstUnit(lines[i+1])) <= width {
				t.Errorf("width %d: line %q breaks early, before %q", width, l, lines[i+1])
			}
		}
	}
}

// firstUnit is the first word of line with the dashed words after it.
func firstUnit(line string) string {
	f := strings.Fields(line)
	n := 1
	for n < len(f) && strings.HasPrefix(f[n], "-") {
		n++
	}
	return strings.Join(f[:n], " ")
}
