package format_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSamplesListed keeps testdata/samples and its README together: every
// file there has a row giving its origin, licence and line count, and the
// count is right (a file is copied verbatim, so a changed count means a
// changed file).
func TestSamplesListed(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `samples/([^`]+)` \\|(?:[^|]*\\|){2} ([0-9,]+) \\|")
	listed := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		n, err := strconv.Atoi(strings.ReplaceAll(m[2], ",", ""))
		if err != nil {
			t.Fatalf("row of %s: line count %q: %v", m[1], m[2], err)
		}
		listed[m[1]] = n
	}
	files, err := filepath.Glob(filepath.Join("testdata", "samples", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files in testdata/samples")
	}
	for _, f := range files {
		name := filepath.Base(f)
		want, ok := listed[name]
		if !ok {
			t.Errorf("testdata/samples/%s has no row in testdata/README.md", name)
			continue
		}
		delete(listed, name)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Lines as a reader sees them: a last line without '\n' counts.
		got := strings.Count(string(b), "\n")
		if len(b) > 0 && b[len(b)-1] != '\n' {
			got++
		}
		if got != want {
			t.Errorf("testdata/samples/%s has %d lines, its row says %d", name, got, want)
		}
	}
	for name := range listed {
		t.Errorf("testdata/README.md lists samples/%s, which is not there", name)
	}
}
