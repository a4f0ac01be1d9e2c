package format

import (
	"os"
	"os/exec"
	"testing"
)

// ci reports whether the tests run in CI, where every external tool the
// tests use must be present.
func ci() bool { return os.Getenv("CI") != "" }

// tool finds an outside program a test checks the parsers with, from
// Debian's package pkg; see missing for when it is not installed.
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		missing(t, name, pkg)
	}
	return path
}

// missing skips the test for want of name, in one line that says which
// package brings it; in CI, where .ci/run installs them all, it fails.
func missing(t testing.TB, name, pkg string) {
	t.Helper()
	if ci() {
		t.Fatalf("%s not installed; CI must install Debian's %s (.ci/run does)", name, pkg)
	}
	t.Skipf("%s not installed: apt-get install %s", name, pkg)
}
