// Command testsummary reads `go test -json` on its standard input and
// prints what `go test` prints without -json (a line per package, and the
// output of the tests that fail), then every skipped test with its reason
// and a closing "N passed, N failed, N skipped" line. `go test` alone
// hides the output of a package that passes, so a test skipped for want
// of a tool would go unseen. It exits 1 when a test or a package failed.
//
//	go test -json ./... | go run ./internal/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action, Package, Test, Output string
}

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// summarize writes the report of the events read from r to w and says
// whether anything failed.
func summarize(r io.Reader, w io.Writer) (failed bool, err error) {
	out := map[string]*strings.Builder{} // output so far, by package and test
	var skips []string
	var passed, failedN int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text()) // not an event: go's own message
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if out[key] == nil {
				out[key] = &strings.Builder{}
			}
			out[key].WriteString(e.Output)
			continue
		case "build-output":
			fmt.Fprint(w, e.Output)
		case "build-fail":
			failed = true
		case "pass", "skip", "fail":
			text := lines(out[key])
			delete(out, key)
			switch {
			case e.Test == "" && e.Action == "fail":
				failed = true
				// Tests that never ended (a panic, a timeout) first.
				var open []string
				for k := range out {
					if strings.HasPrefix(k, e.Package+" ") {
						open = append(open, k)
					}
				}
				sort.Strings(open)
				for _, k := range open {
					fmt.Fprint(w, strings.Join(lines(out[k]), ""))
					delete(out, k)
				}
				fmt.Fprint(w, strings.Join(text, ""))
			case e.Test == "": // only the package's "ok" or "?" line
				for _, l := range text {
					if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "? ") {
						fmt.Fprint(w, l)
					}
				}
			case e.Action == "pass":
				passed++
			case e.Action == "fail":
				failedN++
				fmt.Fprint(w, strings.Join(text, ""))
			default:
				var why []string
				for _, l := range text {
					if !strings.HasPrefix(l, "--- SKIP") {
						why = append(why, strings.TrimSpace(l))
					}
				}
				skips = append(skips, fmt.Sprintf("  %s (%s): %s", e.Test, e.Package, strings.Join(why, "; ")))
			}
		}
	}
	if len(skips) > 0 {
		fmt.Fprintln(w, "\nSkipped:")
		fmt.Fprintln(w, strings.Join(skips, "\n"))
	}
	fmt.Fprintf(w, "\n%d passed, %d failed, %d skipped\n", passed, failedN, len(skips))
	return failed || failedN > 0, sc.Err()
}

// lines are the lines of b, each with its "\n", without go test's own
// "=== RUN" (and PAUSE, CONT, NAME) lines.
func lines(b *strings.Builder) []string {
	if b == nil {
		return nil
	}
	var keep []string
	for _, l := range strings.SplitAfter(b.String(), "\n") {
		if l != "" && !strings.HasPrefix(l, "=== ") {
			keep = append(keep, l)
		}
	}
	return keep
}
