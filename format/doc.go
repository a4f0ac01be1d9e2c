// Package format turns access-log lines into records: Common and
// Combined Log Format and their common variants, read by a hand-written
// parser that costs a typical line no allocation.
//
// It imports only the record package, so every way in (files, standard
// input, syslog, HTTP) and every tool can read lines the same way.
package format
