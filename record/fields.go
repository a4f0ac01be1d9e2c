package record

// Kind is the Go type of a field, as the encoders write it.
type Kind uint8

const (
	Uint    Kind = iota + 1 // uint64, a decimal number
	Int                     // int or int64, a decimal number
	String                  // text, escaped by each encoder; omitted when empty
	Time                    // time.Time, written in RFC 3339 with the log's offset; omitted when zero
	Bool                    // not written: Parsed is told by whether status is there
	Seconds                 // Duration, seconds as a decimal number (0.023); omitted when not Set
	Pairs                   // []Pair: JSON an object of strings, XML a <field name=".."> child each; omitted when empty
)

// When says in which records the client encoders (XML and JSON) write a
// field.
type When uint8

const (
	Always   When = iota + 1 // in every record
	IfParsed                 // only when the line parsed
	IfRaw                    // only when it did not: the raw line stands for the fields
	Never                    // not a field of the encodings
)

// Field describes one field of Record.
type Field struct {
	Name string // the Go field of Record
	JSON string // its key in the JSON form (ndjson, SSE, WebSocket, NATS)
	XML  string // its attribute on <hit/>
	Kind Kind
	When When
	// Wire is true when the NATS wire form carries the field whether or
	// not the line parsed; otherwise it follows When.
	Wire bool
	// Masked is true for text read from the line, which redaction masks;
	// false for what weblogd names itself (seq, source, node) or numbers.
	Masked bool
	// Filter is the query parameter that filters on the field, if any.
	Filter string
}

// Fields lists every field of Record in the order the encoders write
// them. The encoders are written by hand for speed; this package's test
// sets every field of a Record and checks each encoder, the wire form and
// redaction against this table, so a field added to Record and here but
// forgotten by one of them fails the tests.
var Fields = []Field{
	{Name: "Seq", JSON: "seq", XML: "seq", Kind: Uint, When: Always},
	{Name: "Source", JSON: "source", XML: "source", Kind: String, When: Always, Filter: "source"},
	{Name: "Node", JSON: "node", XML: "node", Kind: String, When: Always, Filter: "node"},
	{Name: "Parsed", Kind: Bool, When: Never},
	{Name: "Time", JSON: "time", XML: "time", Kind: Time, When: IfParsed},
	{Name: "VHost", JSON: "vhost", XML: "vhost", Kind: String, When: IfParsed, Masked: true, Filter: "vhost"},
	{Name: "Host", JSON: "host", XML: "host", Kind: String, When: IfParsed, Masked: true, Filter: "host"},
	{Name: "Ident", JSON: "ident", XML: "ident", Kind: String, When: IfParsed, Masked: true},
	{Name: "User", JSON: "user", XML: "user", Kind: String, When: IfParsed, Masked: true},
	{Name: "Method", JSON: "method", XML: "method", Kind: String, When: IfParsed, Masked: true, Filter: "method"},
	{Name: "Path", JSON: "path", XML: "path", Kind: String, When: IfParsed, Masked: true, Filter: "path"},
	{Name: "Proto", JSON: "proto", XML: "proto", Kind: String, When: IfParsed, Masked: true},
	{Name: "Request", JSON: "request", XML: "request", Kind: String, When: IfParsed, Masked: true},
	{Name: "Status", JSON: "status", XML: "status", Kind: Int, When: IfParsed, Filter: "status"},
	{Name: "Bytes", JSON: "bytes", XML: "bytes", Kind: Int, When: IfParsed},
	{Name: "Duration", JSON: "duration", XML: "duration", Kind: Seconds, When: IfParsed, Filter: "min_duration"},
	{Name: "UpstreamDuration", JSON: "upstream_duration", XML: "upstream_duration", Kind: Seconds, When: IfParsed},
	{Name: "Referer", JSON: "referer", XML: "referer", Kind: String, When: IfParsed, Masked: true},
	{Name: "Agent", JSON: "agent", XML: "agent", Kind: String, When: IfParsed, Masked: true},
	{Name: "Extra", JSON: "extra", XML: "extra", Kind: String, When: IfParsed, Masked: true},
	{Name: "Line", JSON: "raw", XML: "raw", Kind: String, When: IfRaw, Wire: true, Masked: true, Filter: "q"},
	{Name: "Fields", JSON: "fields", XML: "field", Kind: Pairs, When: IfParsed, Masked: true},
}
