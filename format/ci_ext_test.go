package format_test

import (
	"os"
	"os/exec"
	"testing"
)

// The external test package's own copies of the CI helpers (the package's
// internal tests have theirs): tests that run real servers live here.

// ci reports whether the tests run in CI, where every external program the
// tests use must be present.
func ci() bool { return os.Getenv("CI") != "" }

// missing skips the test for want of name, in one line that says which
// Debian package brings it; in CI, where .ci/run installs them all, it
// fails.
func missing(t testing.TB, name, pkg string) {
	t.Helper()
	if ci() {
		t.Fatalf("%s not installed; CI must install Debian's %s (.ci/run does)", name, pkg)
	}
	t.Skipf("%s not installed: apt-get install %s", name, pkg)
}

// nginxBinary finds nginx on PATH or where Debian puts it (/usr/sbin is
// often outside a user's PATH).
func nginxBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/nginx"
	if fi, err := os.Stat(sbin); err == nil && fi.Mode()&0o111 != 0 {
		return sbin
	}
	missing(t, "nginx", "nginx")
	return ""
}
