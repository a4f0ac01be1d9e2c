package feed_test

import "os"

// ci reports whether the tests run in CI, where every external tool the
// tests use must be present.
func ci() bool { return os.Getenv("CI") != "" }
