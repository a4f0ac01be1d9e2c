package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const repoRoot = "../.."

// docPages are the pages a reader follows links through: the README, the
// contributor's guide and every page of docs/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages := []string{filepath.Join(repoRoot, "README.md"), filepath.Join(repoRoot, "CONTRIBUTING.md")}
	more, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil || len(more) == 0 {
		t.Fatalf("docs/*.md: %v (%d pages)", err, len(more))
	}
	return append(pages, more...)
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile("(?m)^#{1,6} +(.+)$")
	fenced    = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchor is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces as dashes.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[string]int{}
	for _, m := range mdHeading.FindAllStringSubmatch(fenced.ReplaceAllString(string(b), ""), -1) {
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out = append(out, a+"-"+string(rune('0'+n)))
		}
		seen[a]++
		out = append(out, a)
	}
	return out
}

// Every relative link in the README, CONTRIBUTING.md and docs/ leads to a
// file that exists and, with a #fragment, to a heading in it.
func TestDocLinksResolve(t *testing.T) {
	for _, page := range docPages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := fenced.ReplaceAllString(string(b), "")
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %q: %v", page, link, err)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !slices.Contains(anchors(t, target), frag) {
				t.Errorf("%s: link %q: no heading with that anchor in %s", page, link, target)
			}
		}
	}
}

var helpFlag = regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]+)`)

// Every flag --help prints is in docs/flags.md, and every flag that page
// documents is one the program has.
func TestFlagsDocumented(t *testing.T) {
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	var program []string
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		program = append(program, m[1])
	}
	if len(program) < 20 {
		t.Fatalf("found only %d flags in --help:\n%s", len(program), out)
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "flags.md"))
	if err != nil {
		t.Fatal(err)
	}
	// A documented flag is one in the first column of a table: | `--name ...` |
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z][a-z0-9-]+)").FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	for _, f := range program {
		if !slices.Contains(documented, f) && !strings.Contains(string(doc), "`--"+f) {
			t.Errorf("--%s is in --help but not in docs/flags.md", f)
		}
	}
	for _, f := range documented {
		if !slices.Contains(program, f) {
			t.Errorf("docs/flags.md documents --%s, which --help does not list", f)
		}
	}
}
