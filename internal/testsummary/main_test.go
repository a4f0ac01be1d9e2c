package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A stream as go test -json writes it: a package that passes with a
// skipped subtest, one whose test fails, one that does not build.
const stream = `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestA"}
{"Action":"output","Package":"a","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"a","Test":"TestA/tool","Output":"=== RUN   TestA/tool\n"}
{"Action":"output","Package":"a","Test":"TestA/tool","Output":"    a_test.go:9: xmllint not installed: apt-get install libxml2-utils\n"}
{"Action":"output","Package":"a","Test":"TestA/tool","Output":"--- SKIP: TestA/tool (0.00s)\n"}
{"Action":"skip","Package":"a","Test":"TestA/tool"}
{"Action":"output","Package":"a","Test":"TestA","Output":"    a_test.go:5: noise of a test that passes\n"}
{"Action":"output","Package":"a","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"a","Test":"TestA"}
{"Action":"output","Package":"a","Output":"PASS\n"}
{"Action":"output","Package":"a","Output":"ok  \ta\t0.010s\n"}
{"Action":"pass","Package":"a"}
{"Action":"run","Package":"b","Test":"TestB"}
{"Action":"output","Package":"b","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"b","Test":"TestB","Output":"    b_test.go:4: got 1, want 2\n"}
{"Action":"output","Package":"b","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}
{"Action":"fail","Package":"b","Test":"TestB"}
{"Action":"output","Package":"b","Output":"FAIL\n"}
{"Action":"output","Package":"b","Output":"FAIL\tb\t0.011s\n"}
{"Action":"fail","Package":"b"}
{"ImportPath":"c [c.test]","Action":"build-output","Output":"c/c_test.go:3:1: syntax error\n"}
{"ImportPath":"c [c.test]","Action":"build-fail"}
{"Action":"output","Package":"c","Output":"FAIL\tc [build failed]\n"}
{"Action":"fail","Package":"c"}
`

func TestSummarize(t *testing.T) {
	var out bytes.Buffer
	failed, err := summarize(strings.NewReader(stream), &out)
	if err != nil || !failed {
		t.Fatalf("summarize: failed %v, err %v; want a failure and no error", failed, err)
	}
	want := "ok  \ta\t0.010s\n" +
		"    b_test.go:4: got 1, want 2\n--- FAIL: TestB (0.00s)\nFAIL\nFAIL\tb\t0.011s\n" +
		"c/c_test.go:3:1: syntax error\nFAIL\tc [build failed]\n" +
		"\nSkipped:\n  TestA/tool (a): a_test.go:9: xmllint not installed: apt-get install libxml2-utils\n" +
		"\n1 passed, 1 failed, 1 skipped\n"
	if out.String() != want {
		t.Errorf("output\n%s\nwant\n%s", out.String(), want)
	}
}

// A passing run is no failure, and the closing line is there with no
// skips; a package that does not build alone is a failure.
func TestSummarizeVerdicts(t *testing.T) {
	for _, c := range []struct {
		stream, last string
		failed       bool
	}{
		{stream[:strings.Index(stream, `{"Action":"run","Package":"b"`)], "1 passed, 0 failed, 1 skipped", false},
		{stream[strings.Index(stream, `{"ImportPath"`):], "0 passed, 0 failed, 0 skipped", true},
	} {
		var out bytes.Buffer
		failed, err := summarize(strings.NewReader(c.stream), &out)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if err != nil || failed != c.failed || lines[len(lines)-1] != c.last {
			t.Errorf("failed %v (err %v), last line %q; want %v, %q", failed, err, lines[len(lines)-1], c.failed, c.last)
		}
	}
}

// The real go test: a module of a test that passes, one skipped and one
// that fails, through the real binary; its exit status is 1.
func TestWithGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module of its own")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module m\n\ngo 1.21\n",
		"m_test.go": "package m\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\nfunc TestNeeds(t *testing.T) { t.Skip(\"frob not installed: apt-get install frob\") }\nfunc TestBad(t *testing.T) { t.Error(\"wrong\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "testsummary")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	goTest := exec.Command("go", "test", "-json", "./...")
	goTest.Dir = dir
	goTest.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	cmd := exec.Command(bin)
	var err error
	if cmd.Stdin, err = goTest.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := goTest.Start(); err != nil {
		t.Fatal(err)
	}
	runErr := cmd.Run()
	goTest.Wait()
	if ee, ok := runErr.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want status 1", runErr)
	}
	for _, s := range []string{"--- FAIL: TestBad", "FAIL\tm\t", "  TestNeeds (m): m_test.go:6: frob not installed: apt-get install frob\n",
		"\n1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output does not hold %q:\n%s", s, out.String())
		}
	}
}
