package record

import "time"

// Record is one access-log line. It is immutable once it is in the Ring:
// the hub, every subscriber and every encoder share the same *Record.
// Fields describes its fields; a field added here is added there too.
//
// String fields that are empty are absent from the line and are omitted
// by the encoders ("never invented"). A line that did not parse has
// Parsed == false and carries only Seq, Source, Node and Line.
type Record struct {
	Seq    uint64 // assigned by the Ring: 1, 2, 3, ... with no holes
	Source string // the log's name (base name, or path when base names clash)
	Node   string // the publishing node, for records that came through NATS

	// Parsed is true when Line was read as Common or Combined Log Format.
	// The fields below are set only then.
	Parsed  bool
	Time    time.Time // in the log's own offset; zero when absent
	VHost   string    // vhost prefix ("example.com:443"), when the line has one
	Host    string    // client address as logged
	Ident   string
	User    string
	Method  string
	Path    string
	Proto   string
	Request string // the request line, only when it is not "METHOD PATH PROTO"
	Status  int
	Bytes   int64 // 0 for "-"

	// Duration is the time the server took; UpstreamDuration the time it
	// waited for its upstream (summed over every upstream it tried).
	Duration         Duration
	UpstreamDuration Duration

	Referer string
	Agent   string
	Extra   string // trailing fields after the agent, as written

	// Line is the line as read from the log, without its newline and
	// possibly cut at the maximum line length; for a line a container
	// runtime or syslog relay wrapped, the web server's line inside. It
	// may hold any bytes, including invalid UTF-8; encoders make it safe.
	Line string

	// Fields holds every other value the line's format names, under its
	// name in the format ("ssl_protocol", "request_id", "RouterName"), in
	// the format's order. Nil for a Common or Combined line, unless an
	// X-Forwarded-For list stands before its client (x_forwarded_for).
	Fields []Pair
}

// Duration is how long something took, as a log line says it. Its zero
// value means the line does not say, so a record built without one has
// none; a line that says 0 has Duration{Set: true}.
type Duration struct {
	D   time.Duration
	Set bool
}

// Took returns the Duration of a line that says d.
func Took(d time.Duration) Duration { return Duration{D: d, Set: true} }

// Pair is one named value of Fields.
type Pair struct {
	Name, Value string
}
