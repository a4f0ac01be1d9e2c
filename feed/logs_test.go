package feed_test

import (
	"os"
	"strings"
	"testing"
)

// The real logs the format package's tests read (format/testdata/README.md).
const (
	apacheLog = "../format/testdata/apache_combined_10k.log"
	nginxLog  = "../format/testdata/nginx_combined_extra_1k.log"
)

// readLines returns the lines of a test log without their newlines.
func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}
