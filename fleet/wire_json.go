package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/weblogd/weblogd/record"
)

// wireRecord is the JSON form as encoding/json reads it back: a field of
// record.Fields missing here is dropped by every edge, which the record
// package's test catches.
type wireRecord struct {
	Seq     uint64 `json:"seq"`
	Source  string `json:"source"`
	Node    string `json:"node"`
	Time    string `json:"time"`
	VHost   string `json:"vhost"`
	Host    string `json:"host"`
	Ident   string `json:"ident"`
	User    string `json:"user"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Proto   string `json:"proto"`
	Request string `json:"request"`
	Status  *int   `json:"status"` // present exactly when the line parsed
	Bytes   int64  `json:"bytes"`
	// Durations are read as written, exact decimal seconds.
	Duration         *json.Number `json:"duration"`
	UpstreamDuration *json.Number `json:"upstream_duration"`
	Referer          string       `json:"referer"`
	Agent            string       `json:"agent"`
	Extra            string       `json:"extra"`
	Raw              *string      `json:"raw"`
	Fields           pairs        `json:"fields"`
}

// pairs reads the fields object in its order, a name written twice kept
// twice, as record.Fields holds them.
type pairs []record.Pair

func (p *pairs) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("fields: want an object")
	}
	for dec.More() {
		var name, value string
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("fields: %w", err)
		}
		name, _ = tok.(string)
		if err := dec.Decode(&value); err != nil {
			return fmt.Errorf("fields: %s: %w", name, err)
		}
		*p = append(*p, record.Pair{Name: name, Value: value})
	}
	return nil
}

// seconds reads a duration written as decimal seconds (0.023), exactly.
func seconds(n *json.Number) (record.Duration, error) {
	if n == nil {
		return record.Duration{}, nil
	}
	d, err := time.ParseDuration(string(*n) + "s")
	if err != nil {
		return record.Duration{}, fmt.Errorf("decode record duration %s: %w", *n, err)
	}
	return record.Took(d), nil
}

// timeLayout is the encoders' time form: the log's own offset, +00:00
// rather than Z.
const timeLayout = "2006-01-02T15:04:05-07:00"

// decodeJSON reads a record from the JSON form that versions before
// batches published, one record per message: its JSON form
// (transports.AppendJSONRaw) with node and the raw line.
func decodeJSON(data []byte) (*record.Record, error) {
	var w wireRecord
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	r := &record.Record{
		Seq: w.Seq, Source: w.Source, Node: w.Node,
		VHost: w.VHost, Host: w.Host, Ident: w.Ident, User: w.User,
		Method: w.Method, Path: w.Path, Proto: w.Proto, Request: w.Request,
		Bytes: w.Bytes, Referer: w.Referer, Agent: w.Agent, Extra: w.Extra,
	}
	if w.Raw != nil {
		r.Line = *w.Raw
	}
	if w.Status == nil {
		return r, nil // a line that did not parse: seq, source, node, raw
	}
	r.Parsed, r.Status = true, *w.Status
	if len(w.Fields) > 0 {
		r.Fields = []record.Pair(w.Fields)
	}
	var err error
	if r.Duration, err = seconds(w.Duration); err != nil {
		return nil, err
	}
	if r.UpstreamDuration, err = seconds(w.UpstreamDuration); err != nil {
		return nil, err
	}
	if w.Time != "" {
		t, err := time.Parse(timeLayout, w.Time)
		if err != nil {
			return nil, fmt.Errorf("decode record time: %w", err)
		}
		r.Time = t
	}
	return r, nil
}
