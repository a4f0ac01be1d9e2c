package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weblogd/weblogd/record"
)

// DefaultPrefix is the subject prefix records are published under:
// weblogd.records.<node>.<source>, so that a consumer can take one node's
// or one log's records by subject alone.
const DefaultPrefix = "weblogd.records"

// DefaultStream is the name of the JetStream stream that holds them.
const DefaultStream = "WEBLOGD"

// Subject returns the subject of a record of source published by node:
// prefix.node.source, each of node and source made one valid token.
func Subject(prefix, node, source string) string {
	return prefix + "." + Token(node) + "." + Token(source)
}

// Token makes s one NATS subject token: '.', the wildcards '*' and '>',
// white space and control characters separate or break tokens, so each
// becomes '_'; an empty s becomes "_". Two names that differ only in those
// characters share a subject, which is harmless: each batch carries its
// node and source unchanged.
func Token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f || r == '\uFFFD':
			return '_'
		}
		return r
	}, s)
}

// BatchID is the Nats-Msg-Id of a batch: node, source, the key of its
// first record and its number of records. A key names a line for good
// (its file identity and offset, as the tailer gives them) or, for a line
// that cannot be read again, its seq ("seq:N"). A batch sent again with
// the same records, after an outage or a restart, has the same id and is
// not stored again inside the stream's duplicate window.
func BatchID(node, source, firstKey string, count int) string {
	return node + "\x1f" + source + "\x1f" + firstKey + "\x1f" + strconv.Itoa(count)
}

// The wire form. Each JetStream message is a batch of records of one
// node and one source:
//
//	version (1 byte) | count (uvarint) | node | source | count records
//
// Every version, this one and any later, starts with its version byte
// and the number of records, so that an edge can count what it cannot
// read. Strings are a uvarint length and the bytes. A record of version 1:
//
//	seq (uvarint) | flags (1 byte) | line (string)
//	if parsed: [time: Unix seconds (varint), nanoseconds (uvarint), offset seconds (varint)]
//	           vhost host ident user method path proto request (text)
//	           status (varint) bytes (varint)
//	           [duration ns (varint)] [upstream duration ns (varint)]
//	           referer agent extra (text) | number of fields (uvarint), each name and value (text)
//
// A text is a uvarint n: 0 is empty; odd n is n>>1 bytes that follow;
// even n is the n>>1 bytes of the line at the offset (uvarint) that
// follows: a parsed field is most often a piece of its line, and is then
// written once (BenchmarkWireSize).
//
// A message whose first byte is '{' is a record in the JSON form, one
// per message, as versions before batches wrote it; edges still read it.
const (
	wireVersion = 1
	jsonVersion = '{'
)

// Record flags.
const (
	flagParsed   = 1 << iota
	flagTime     // Time is set
	flagDuration // Duration is Set
	flagUpstream // UpstreamDuration is Set
)

// minRecord is the fewest bytes a record takes: seq, flags, line.
const minRecord = 3

// appendHeader starts a batch of count records of node and source.
func appendHeader(dst []byte, node, source string, count int) []byte {
	dst = append(dst, wireVersion)
	dst = binary.AppendUvarint(dst, uint64(count))
	dst = appendString(dst, node)
	return appendString(dst, source)
}

// AppendBatch appends the wire form of recs as one batch of node and
// source: each record's own Node and Source are not written.
func AppendBatch(dst []byte, node, source string, recs []*record.Record) []byte {
	dst = appendHeader(dst, node, source, len(recs))
	for _, r := range recs {
		dst = appendWire(dst, r)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendWire appends one record of a batch.
func appendWire(dst []byte, r *record.Record) []byte {
	var flags byte
	if r.Parsed {
		flags |= flagParsed
		if !r.Time.IsZero() {
			flags |= flagTime
		}
		if r.Duration.Set {
			flags |= flagDuration
		}
		if r.UpstreamDuration.Set {
			flags |= flagUpstream
		}
	}
	dst = binary.AppendUvarint(dst, r.Seq)
	dst = append(dst, flags)
	dst = appendString(dst, r.Line)
	if !r.Parsed {
		return dst
	}
	if flags&flagTime != 0 {
		_, off := r.Time.Zone()
		dst = binary.AppendVarint(dst, r.Time.Unix())
		dst = binary.AppendUvarint(dst, uint64(r.Time.Nanosecond()))
		dst = binary.AppendVarint(dst, int64(off))
	}
	t := text{line: r.Line}
	for _, s := range []string{r.VHost, r.Host, r.Ident, r.User, r.Method, r.Path, r.Proto, r.Request} {
		dst = t.append(dst, s)
	}
	dst = binary.AppendVarint(dst, int64(r.Status))
	dst = binary.AppendVarint(dst, r.Bytes)
	if flags&flagDuration != 0 {
		dst = binary.AppendVarint(dst, int64(r.Duration.D))
	}
	if flags&flagUpstream != 0 {
		dst = binary.AppendVarint(dst, int64(r.UpstreamDuration.D))
	}
	for _, s := range []string{r.Referer, r.Agent, r.Extra} {
		dst = t.append(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Fields)))
	for _, p := range r.Fields {
		dst = t.append(dst, p.Name)
		dst = t.append(dst, p.Value)
	}
	return dst
}

// text writes the texts of one record, each as a piece of the record's
// line when it is one. Fields come in about the order of the line, so the
// search starts after the last piece found.
type text struct {
	line string
	from int
}

func (t *text) append(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, 0)
	}
	i := -1
	if len(s) <= len(t.line) {
		if i = strings.Index(t.line[t.from:], s); i >= 0 {
			i += t.from
		} else {
			i = strings.Index(t.line[:t.from], s)
		}
	}
	if i < 0 {
		dst = binary.AppendUvarint(dst, uint64(len(s))<<1|1)
		return append(dst, s...)
	}
	t.from = i + len(s)
	dst = binary.AppendUvarint(dst, uint64(len(s))<<1)
	return binary.AppendUvarint(dst, uint64(i))
}

// Batch is a decoded message: its records, each with the batch's node and
// source.
type Batch struct {
	Node, Source string
	Records      []*record.Record
}

// UnknownVersionError is DecodeBatch's error for a message of a version
// this weblogd does not know: written by a newer one. Records is how many
// records it holds.
type UnknownVersionError struct {
	Version byte
	Records uint64
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("a batch of %d records in wire format version %d, which this weblogd does not know (it knows %d)", e.Records, e.Version, wireVersion)
}

// errBatch is the error of a message that is cut short or malformed.
var errBatch = errors.New("decode record batch: malformed")

// DecodeBatch reads a message. Each record's Seq is the publisher's seq;
// an edge's Ring gives the record its own. A message of an unknown
// version gives an *UnknownVersionError; one that does not decode, an
// error and no records: never a record misread.
func DecodeBatch(data []byte) (Batch, error) {
	if len(data) == 0 {
		return Batch{}, errBatch
	}
	switch data[0] {
	case jsonVersion:
		r, err := decodeJSON(data)
		if err != nil {
			return Batch{}, err
		}
		return Batch{Node: r.Node, Source: r.Source, Records: []*record.Record{r}}, nil
	case wireVersion:
	default:
		n, _ := binary.Uvarint(data[1:])
		return Batch{}, &UnknownVersionError{Version: data[0], Records: n}
	}
	d := decoder{b: data[1:]}
	count := d.uvarint()
	if count > uint64(len(d.b)/minRecord) {
		return Batch{}, errBatch // more records than bytes for them
	}
	b := Batch{Node: d.string(), Source: d.string(), Records: make([]*record.Record, 0, count)}
	recs := make([]record.Record, count)
	for i := range recs {
		r := &recs[i]
		d.record(r)
		if d.bad {
			return Batch{}, errBatch
		}
		r.Node, r.Source = b.Node, b.Source
		b.Records = append(b.Records, r)
	}
	if d.bad || len(d.b) != 0 {
		return Batch{}, errBatch
	}
	return b, nil
}

// decoder reads a batch; bad is set by the first read past the end or of
// a malformed value, after which every read gives zero.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes(d.uvarint())) }

// text reads a text of a record whose line is line.
func (d *decoder) text(line string) string {
	n := d.uvarint()
	if n&1 == 1 {
		return string(d.bytes(n >> 1))
	}
	if n == 0 {
		return ""
	}
	at := d.uvarint()
	if at > uint64(len(line)) || n>>1 > uint64(len(line))-at {
		d.bad, d.b = true, nil
		return ""
	}
	return line[at : at+(n>>1)]
}

func (d *decoder) record(r *record.Record) {
	r.Seq = d.uvarint()
	flags := d.bytes(1)
	r.Line = d.string()
	if d.bad || flags[0] == 0 {
		return
	}
	if flags[0]&flagParsed == 0 || flags[0]>>4 != 0 {
		d.bad = true // flags of a parsed record on one that is not, or unknown ones
		return
	}
	r.Parsed = true
	if flags[0]&flagTime != 0 {
		sec, ns, off := d.varint(), d.uvarint(), d.varint()
		if ns >= uint64(time.Second) || off <= -24*3600 || off >= 24*3600 {
			d.bad = true
			return
		}
		r.Time = time.Unix(sec, int64(ns)).In(time.FixedZone("", int(off)))
	}
	for _, s := range []*string{&r.VHost, &r.Host, &r.Ident, &r.User, &r.Method, &r.Path, &r.Proto, &r.Request} {
		*s = d.text(r.Line)
	}
	r.Status, r.Bytes = int(d.varint()), d.varint()
	if flags[0]&flagDuration != 0 {
		r.Duration = record.Took(time.Duration(d.varint()))
	}
	if flags[0]&flagUpstream != 0 {
		r.UpstreamDuration = record.Took(time.Duration(d.varint()))
	}
	for _, s := range []*string{&r.Referer, &r.Agent, &r.Extra} {
		*s = d.text(r.Line)
	}
	n := d.uvarint()
	if n > uint64(len(d.b)/2) { // a pair takes two bytes at least
		d.bad = true
		return
	}
	if n > 0 {
		r.Fields = make([]record.Pair, n)
		for i := range r.Fields {
			r.Fields[i] = record.Pair{Name: d.text(r.Line), Value: d.text(r.Line)}
		}
	}
}
