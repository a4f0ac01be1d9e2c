// Package format turns access-log lines into records. Compile reads a
// --format (a preset's name, an nginx log_format or Apache LogFormat
// string, or "auto", which recognises each source's format from its own
// lines); a Format gives each source a Parser, and a Reader, which takes
// off container and syslog wrappers, joins split lines, parses, counts,
// and warns when the lines stop fitting. Common and Combined Log Format
// and their variants are read by a hand-written parser that costs a
// typical line no allocation.
//
// It imports only the record package, so every way in (files, standard
// input, syslog, HTTP) and every tool can read lines the same way.
package format
