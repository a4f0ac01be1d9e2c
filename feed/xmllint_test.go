package feed_test

import (
	"bytes"
	"os/exec"
	"testing"
)

// xmllint checks doc with libxml2's xmllint, a parser that is not ours, in
// a subtest of its own: without xmllint only that subtest is skipped.
func xmllint(t *testing.T, doc []byte) {
	t.Helper()
	t.Run("xmllint", func(t *testing.T) {
		cmd := exec.Command(tool(t, "xmllint", "libxml2-utils"), "--noout", "-")
		cmd.Stdin = bytes.NewReader(doc)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xmllint --noout: %v\n%s", err, out)
		}
	})
}
