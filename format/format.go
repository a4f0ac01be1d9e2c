package format

import (
	"errors"

	"github.com/weblogd/weblogd/record"
)

// A Parser reads the lines of one format into records. A Parser made for
// one source may keep state about it (a W3C log's #Fields directive, the
// format auto recognised), so each source has its own.
type Parser interface {
	// Parse fills r's parsed fields from line (unwrapped already) and
	// reports whether the line fits the format. When it does not, at is
	// the byte offset of line where the format stopped matching, and r
	// holds partial results that the caller throws away. The caller sets
	// Parsed, Line, Seq, Source and Node.
	Parse(r *record.Record, line string) (ok bool, at int)
	// Name is the format in use, as /api/status shows it.
	Name() string
}

// errNotYet is what the parts of this package still being written return.
var errNotYet = errors.New("not supported yet")

// notYet is the Parser of a preset still being written: it fits no line.
type notYet string

func (n notYet) Parse(*record.Record, string) (bool, int) { return false, 0 }
func (n notYet) Name() string                             { return string(n) }
