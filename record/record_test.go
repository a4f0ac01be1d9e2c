package record_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/transports"
)

// timeLayout is the encoders' time form.
const timeLayout = "2006-01-02T15:04:05-07:00"

var recordType = reflect.TypeFor[record.Record]()

// TestFieldsDescribeRecord: Fields names every field of Record, in the
// struct's order, with its kind, and keys that are unique.
func TestFieldsDescribeRecord(t *testing.T) {
	if len(record.Fields) != recordType.NumField() {
		t.Errorf("Fields has %d entries, Record %d fields", len(record.Fields), recordType.NumField())
	}
	seen := map[string]bool{}
	for i := range min(len(record.Fields), recordType.NumField()) {
		f, sf := record.Fields[i], recordType.Field(i)
		if f.Name != sf.Name {
			t.Errorf("Fields[%d] is %s, Record's field %d is %s", i, f.Name, i, sf.Name)
			continue
		}
		if k := kindOf(sf.Type); f.Kind != k {
			t.Errorf("%s: Kind=%d, want %d for %s", f.Name, f.Kind, k, sf.Type)
		}
		if (f.When == record.Never) != (f.JSON == "" || f.XML == "") {
			t.Errorf("%s: When=%d with JSON=%q XML=%q: a written field has both keys", f.Name, f.When, f.JSON, f.XML)
		}
		if f.Masked && f.Kind != record.String && f.Kind != record.Pairs {
			t.Errorf("%s: Masked, but not text", f.Name)
		}
		for _, k := range []string{"json:" + f.JSON, "xml:" + f.XML} {
			if !strings.HasSuffix(k, ":") && seen[k] {
				t.Errorf("%s: key %s used twice", f.Name, k)
			}
			seen[k] = true
		}
	}
}

func kindOf(t reflect.Type) record.Kind {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return record.Time
	case t == reflect.TypeFor[record.Duration]():
		return record.Seconds
	case t == reflect.TypeFor[[]record.Pair]():
		return record.Pairs
	case t.Kind() == reflect.Uint64:
		return record.Uint
	case t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		return record.Int
	case t.Kind() == reflect.String:
		return record.String
	case t.Kind() == reflect.Bool:
		return record.Bool
	}
	return 0
}

// filled returns a Record with every field set to a value of its own (by
// reflection, so a new field is filled too), its text holding what each
// encoder must escape.
func filled(parsed bool) record.Record {
	var r record.Record
	v := reflect.ValueOf(&r).Elem()
	for i, f := range record.Fields {
		fv := v.FieldByName(f.Name)
		switch f.Kind {
		case record.Uint:
			fv.SetUint(uint64(1000 + i))
		case record.Int:
			fv.SetInt(int64(2000 + i))
		case record.String:
			fv.SetString(fmt.Sprintf("%s <&\"'>\t\n\\ é\u2028 %d", strings.ToLower(f.Name), i))
		case record.Time:
			fv.Set(reflect.ValueOf(time.Date(2026, 11, 21, 10, 0, i, 0, time.FixedZone("", 5400))))
		case record.Bool:
			fv.SetBool(parsed)
		case record.Seconds:
			// Whole seconds, a fraction with a zero inside, a last digit
			// in the nanoseconds: what a rounding or trimming writer loses.
			fv.Set(reflect.ValueOf(record.Took(time.Duration(i)*time.Second + 20_300_007*time.Nanosecond)))
		case record.Pairs:
			text := fmt.Sprintf(" <&\"'>\t\n\\ é\u2028 %d", i)
			fv.Set(reflect.ValueOf([]record.Pair{
				{Name: "ssl_protocol", Value: "TLSv1.3"},
				{Name: "name" + text, Value: "value" + text},
				{Name: "empty", Value: ""},
				{Name: "ssl_protocol", Value: "a name given twice is kept twice"},
			}))
		}
	}
	return r
}

// carried returns r with the fields an encoding leaves out zeroed: the
// record as it should come back.
func carried(r record.Record, wire bool) record.Record {
	var out record.Record
	in, o := reflect.ValueOf(r), reflect.ValueOf(&out).Elem()
	for _, f := range record.Fields {
		keep := f.When == record.Always || wire && f.Wire ||
			f.When == record.IfParsed && r.Parsed || f.When == record.IfRaw && !r.Parsed
		if keep || f.Name == "Parsed" {
			o.FieldByName(f.Name).Set(in.FieldByName(f.Name))
		}
	}
	return out
}

// fromKeys builds a Record from the keys an encoding wrote, in order,
// through the table: the reading side that the encoders are checked
// against. Parsed is told by status, as the protocol says.
func fromKeys(t *testing.T, w written, key func(record.Field) string) record.Record {
	t.Helper()
	keys, vals := w.keys, w.vals
	var r record.Record
	v := reflect.ValueOf(&r).Elem()
	known := map[string]bool{}
	var order []string
	for _, f := range record.Fields {
		k := key(f)
		if k == "" {
			continue
		}
		known[k] = true
		fv := v.FieldByName(f.Name)
		if f.Kind == record.Pairs {
			if ps, ok := w.pairs[k]; ok {
				order = append(order, k)
				fv.Set(reflect.ValueOf(ps))
			}
			continue
		}
		s, ok := vals[k]
		if !ok {
			continue
		}
		order = append(order, k)
		switch f.Kind {
		case record.Uint:
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Errorf("%s=%q: %v", k, s, err)
			}
			fv.SetUint(n)
		case record.Int:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Errorf("%s=%q: %v", k, s, err)
			}
			fv.SetInt(n)
		case record.String:
			fv.SetString(s)
		case record.Time:
			tm, err := time.Parse(timeLayout, s)
			if err != nil {
				t.Errorf("%s=%q: %v", k, s, err)
			}
			fv.Set(reflect.ValueOf(tm))
		case record.Seconds:
			fv.Set(reflect.ValueOf(readSeconds(t, k, s)))
		}
	}
	for _, k := range keys {
		if !known[k] {
			t.Errorf("%q is written but is no field of record.Fields", k)
		}
	}
	if !slices.Equal(keys, order) {
		t.Errorf("keys written in the order %v, want the table's %v", keys, order)
	}
	_, r.Parsed = vals["status"]
	return r
}

// written is what an encoding wrote: the keys in order, the value of each
// scalar as text, and the pairs under the key of a Pairs field.
type written struct {
	keys  []string
	vals  map[string]string
	pairs map[string][]record.Pair
}

// secondsRE is the form of a duration: decimal seconds, no exponent, no
// sign but a minus, no trailing zero in a fraction.
var secondsRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$`)

// readSeconds reads decimal seconds exactly, with big.Rat rather than the
// encoders' own helpers or floating point.
func readSeconds(t *testing.T, k, s string) record.Duration {
	t.Helper()
	if !secondsRE.MatchString(s) {
		t.Errorf("%s=%q: want decimal seconds such as 0.023, trailing zeros trimmed", k, s)
		return record.Duration{}
	}
	q, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Errorf("%s=%q: not a number", k, s)
		return record.Duration{}
	}
	q.Mul(q, big.NewRat(1e9, 1))
	if !q.IsInt() || !q.Num().IsInt64() {
		t.Errorf("%s=%q: not a whole number of nanoseconds", k, s)
		return record.Duration{}
	}
	return record.Took(time.Duration(q.Num().Int64()))
}

// compare reports each field of got that differs from want, and then the
// encoding data once.
func compare(t *testing.T, what string, data []byte, got, want record.Record) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("%s", data)
		}
	}()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for _, f := range record.Fields {
		gv, wv := g.FieldByName(f.Name).Interface(), w.FieldByName(f.Name).Interface()
		if f.Kind == record.Time {
			// Same instant and same offset, as the log wrote it.
			gv, wv = gv.(time.Time).Format(time.RFC3339Nano), wv.(time.Time).Format(time.RFC3339Nano)
		}
		if !reflect.DeepEqual(gv, wv) {
			t.Errorf("%s: %s=%#v, want %#v", what, f.Name, gv, wv)
		}
	}
}

// TestEveryFieldSurvivesEveryEncoding sets every field of a Record and
// checks that the XML and JSON forms write each field the table says they
// write, under its key and in its order, and that the NATS wire form
// gives the record back whole.
func TestEveryFieldSurvivesEveryEncoding(t *testing.T) {
	for _, parsed := range []bool{true, false} {
		r := filled(parsed)
		name := map[bool]string{true: "parsed", false: "raw"}[parsed]
		t.Run(name+"/XML", func(t *testing.T) {
			data := transports.AppendXML(nil, &r)
			got := fromKeys(t, xmlKeys(t, data), func(f record.Field) string { return f.XML })
			compare(t, "XML", data, got, carried(r, false))
		})
		t.Run(name+"/JSON", func(t *testing.T) {
			data := transports.AppendJSON(nil, &r)
			got := fromKeys(t, jsonKeys(t, data), func(f record.Field) string { return f.JSON })
			compare(t, "JSON", data, got, carried(r, false))
		})
		t.Run(name+"/NATS", func(t *testing.T) {
			data := fleet.AppendBatch(nil, r.Node, r.Source, []*record.Record{&r})
			b, err := fleet.DecodeBatch(data)
			if err != nil || len(b.Records) != 1 {
				t.Fatalf("DecodeBatch(%q)=%d records, %v", data, len(b.Records), err)
			}
			compare(t, "NATS wire form through fleet.DecodeBatch", data, *b.Records[0], carried(r, true))
		})
	}
}

// xmlKeys reads one <hit> element: its attributes in order, then its
// children, each <field name="...">value</field> and nothing else, under
// the key "field". A hit without children must be an empty element.
func xmlKeys(t *testing.T, data []byte) written {
	t.Helper()
	var hit struct {
		XMLName  xml.Name
		Attrs    []xml.Attr `xml:",any,attr"`
		Children []struct {
			XMLName xml.Name
			Attrs   []xml.Attr `xml:",any,attr"`
			Value   string     `xml:",chardata"`
			Inner   []struct {
				XMLName xml.Name
			} `xml:",any"`
		} `xml:",any"`
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal(data, &hit); err != nil {
		t.Fatalf("AppendXML wrote %s: %v", data, err)
	}
	if hit.XMLName.Local != "hit" {
		t.Errorf("element %q, want hit", hit.XMLName.Local)
	}
	if hit.Text != "" {
		t.Errorf("<hit> holds text %q, want only <field> children", hit.Text)
	}
	w := written{vals: map[string]string{}, pairs: map[string][]record.Pair{}}
	for _, a := range hit.Attrs {
		w.keys = append(w.keys, a.Name.Local)
		w.vals[a.Name.Local] = a.Value
	}
	for _, c := range hit.Children {
		k := c.XMLName.Local
		if len(c.Attrs) != 1 || c.Attrs[0].Name.Local != "name" || len(c.Inner) > 0 {
			t.Errorf("child <%s %v> with %d elements in it, want <%s name=\"...\">text</%[1]s>", k, c.Attrs, len(c.Inner), k)
			continue
		}
		if _, ok := w.pairs[k]; !ok {
			w.keys = append(w.keys, k)
		}
		w.pairs[k] = append(w.pairs[k], record.Pair{Name: c.Attrs[0].Value, Value: c.Value})
	}
	if empty := bytes.HasSuffix(data, []byte("/>")); empty != (len(hit.Children) == 0) {
		t.Errorf("a hit with %d children ends %q", len(hit.Children), data[max(0, len(data)-8):])
	}
	return w
}

// jsonKeys reads one JSON object of scalars and objects of strings: its
// keys in order, each scalar as text, and each object's members as pairs
// in order.
func jsonKeys(t *testing.T, data []byte) written {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object: %v %v", data, tok, err)
	}
	w := written{vals: map[string]string{}, pairs: map[string][]record.Pair{}}
	next := func() json.Token {
		t.Helper()
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		return tok
	}
	for dec.More() {
		ks := next().(string)
		w.keys = append(w.keys, ks)
		switch v := next().(type) {
		case string:
			w.vals[ks] = v
		case json.Number:
			w.vals[ks] = v.String()
		case json.Delim:
			if v != '{' {
				t.Fatalf("%s: %s=%v, want a string, a number or an object", data, ks, v)
			}
			ps := []record.Pair{}
			for dec.More() {
				name := next().(string)
				value, ok := next().(string)
				if !ok {
					t.Fatalf("%s: %s.%s is not a string", data, ks, name)
				}
				ps = append(ps, record.Pair{Name: name, Value: value})
			}
			next() // '}'
			w.pairs[ks] = ps
		default:
			t.Errorf("%s: %s=%v, want a string, a number or an object", data, ks, v)
		}
	}
	return w
}

// TestRedactionMasksEveryMaskedField plants an address, a query and a
// secret parameter in each text field in turn and checks that redaction
// masks it where the table says Masked, and leaves it where it does not
// (seq, source and node are weblogd's own names).
func TestRedactionMasksEveryMaskedField(t *testing.T) {
	red, err := redact.New(redact.Options{Host: redact.HostPrefix, Query: true, Params: redact.DefaultParams})
	if err != nil {
		t.Fatal(err)
	}
	const planted = `via 198.51.100.77 /?q=ZqQUERY token=ZqSECRET`
	leaks := []string{"198.51.100.77", "ZqQUERY", "ZqSECRET"}
	for _, parsed := range []bool{true, false} {
		for _, f := range record.Fields {
			if f.Kind != record.String && f.Kind != record.Pairs || parsed && f.When == record.IfRaw || !parsed && f.When == record.IfParsed {
				continue
			}
			line := "not a log line"
			if parsed {
				line = `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "a"`
			}
			r := format.Parse(line)
			if r.Parsed != parsed {
				t.Fatalf("Parse(%q).Parsed=%v", line, r.Parsed)
			}
			fv := reflect.ValueOf(&r).Elem().FieldByName(f.Name)
			if f.Kind == record.Pairs {
				fv.Set(reflect.ValueOf([]record.Pair{{Name: "request_id", Value: planted}, {Name: "note", Value: "see " + planted}}))
			} else {
				fv.SetString(planted)
			}
			before := fmt.Sprint(fv.Interface())
			red.Record(&r)
			got := fmt.Sprint(reflect.ValueOf(r).FieldByName(f.Name).Interface())
			if !f.Masked {
				if got != before {
					t.Errorf("parsed=%v: %s=%q after masking, want it kept: %q", parsed, f.Name, got, before)
				}
				continue
			}
			for _, leak := range leaks {
				if strings.Contains(got, leak) {
					t.Errorf("parsed=%v: %s=%q after masking: %q survives", parsed, f.Name, got, leak)
				}
			}
		}
	}
}

// TestFilterReadsItsField: each field with a Filter parameter is the one
// that parameter reads, and the filter has no parameter the table lacks.
func TestFilterReadsItsField(t *testing.T) {
	// For each parameter: a value of the field, a filter that takes it, and
	// a value of the field that the filter refuses.
	cases := map[string]struct {
		in     any
		filter string
		out    any
	}{
		"status":       {404, "4xx", 200},
		"method":       {"GET", "get", "POST"},
		"path":         {"/api/x", "/api/", "/web/x"},
		"host":         {"203.0.113.9", "203.0.113.0/24", "198.51.100.1"},
		"vhost":        {"example.com:443", "EXAMPLE.com", "example.org:443"},
		"min_duration": {record.Took(250 * time.Millisecond), "250ms", record.Took(249 * time.Millisecond)},
		"source":       {"a.log", "a.log", "b.log"},
		"node":         {"web-1", "web-1", "web-2"},
		"q":            {"a needle in it", "NEEDLE", "hay"},
	}
	var params []string
	for _, f := range record.Fields {
		if f.Filter == "" {
			continue
		}
		params = append(params, f.Filter)
		c, ok := cases[f.Filter]
		if !ok {
			t.Errorf("%s: no case for filter %s= in this test", f.Name, f.Filter)
			continue
		}
		flt, err := transports.ParseFilter(func(k string) []string {
			if k == f.Filter {
				return []string{c.filter}
			}
			return nil
		})
		if err != nil || flt == nil {
			t.Fatalf("ParseFilter(%s=%s)=%v, %v", f.Name, c.filter, flt, err)
		}
		r := filled(true)
		fv := reflect.ValueOf(&r).Elem().FieldByName(f.Name)
		fv.Set(reflect.ValueOf(c.in).Convert(fv.Type()))
		if !flt.Match(&r) {
			t.Errorf("%s=%s does not pass a record with %s=%v", f.Filter, c.filter, f.Name, c.in)
		}
		fv.Set(reflect.ValueOf(c.out).Convert(fv.Type()))
		if flt.Match(&r) {
			t.Errorf("%s=%s passes a record with %s=%v", f.Filter, c.filter, f.Name, c.out)
		}
	}
	if got, want := slices.Sorted(slices.Values(params)), slices.Sorted(slices.Values(transports.FilterParams)); !slices.Equal(got, want) {
		t.Errorf("the table's filters are %v, transports.FilterParams %v", got, want)
	}
}

// TestProtocolDocListsFields: the fields table of docs/protocol.md names
// the keys of Fields, in its order.
func TestProtocolDocListsFields(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n### Fields\n")
	if !ok {
		t.Fatal("docs/protocol.md has no \"### Fields\" section")
	}
	section, _, _ = strings.Cut(section, "\n###")
	var documented []string
	for _, line := range strings.Split(section, "\n") {
		first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		if !ok || !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, name := range strings.Split(first, ", ") {
			documented = append(documented, strings.Trim(name, "`"))
		}
	}
	var keys []string
	for _, f := range record.Fields {
		if f.JSON != "" {
			keys = append(keys, f.JSON)
		}
	}
	if !slices.Equal(documented, keys) {
		t.Errorf("docs/protocol.md lists the fields %v, record.Fields %v", documented, keys)
	}
}
