package feed_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"testing"
)

// xmllint checks doc with libxml2's xmllint, a parser that is not ours. In
// CI it must be there (.ci/run installs it), so a missing one fails there.
func xmllint(t *testing.T, doc []byte) error {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err != nil {
		if ci() {
			return fmt.Errorf("xmllint not found; CI must install libxml2-utils")
		}
		t.Log("xmllint not installed; checked with encoding/xml only")
		return nil
	}
	cmd := exec.Command(path, "--noout", "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("xmllint --noout: %v\n%s", err, out)
	}
	return nil
}
