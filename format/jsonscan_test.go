package format

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// member is one step of a walk, as the tests write it down.
type member struct {
	name  string // dotted
	kind  jsonKind
	value string
}

// walkAll enters every container and lists every scalar member.
func walkAll(line string) ([]member, bool, int) {
	var sc jsonScan
	sc.reset(line)
	var got []member
	for sc.next() {
		if sc.kind == jsonObject || sc.kind == jsonArray {
			sc.enter()
			continue
		}
		got = append(got, member{sc.name(), sc.kind, sc.value})
	}
	ok, at := sc.end()
	return got, ok, at
}

func TestJSONScan(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []member
	}{
		{`{}`, nil},
		{" \t{ }\r\n", nil},
		{`{"a":"b","n":-1.5e+3,"t":true,"f":false,"z":null}`, []member{
			{"a", jsonString, "b"}, {"n", jsonNumber, "-1.5e+3"}, {"t", jsonTrue, "true"},
			{"f", jsonFalse, "false"}, {"z", jsonNull, "null"},
		}},
		{`{"request":{"host":"example.com","headers":{"User-Agent":["curl/7.82.0","x"]}},"status":200}`, []member{
			{"request.host", jsonString, "example.com"},
			{"request.headers.User-Agent.", jsonString, "curl/7.82.0"},
			{"request.headers.User-Agent.", jsonString, "x"},
			{"status", jsonNumber, "200"},
		}},
		{`{"e":"q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00 lone\ud800 end\udc00"}`, []member{
			{"e", jsonString, "q\"b\\s/n\nt\tu\u00e9\U0001F600 lone\uFFFD end\uFFFD"},
		}},
		{`{"k\u0041":[[],{},[1,[2]]]}`, []member{
			{"kA..", jsonNumber, "1"}, {"kA...", jsonNumber, "2"},
		}},
		{"{\"raw\":\"\xff\xfe\"}", []member{{"raw", jsonString, "\xff\xfe"}}},
	} {
		got, ok, at := walkAll(tc.line)
		if !ok {
			t.Errorf("%q: stopped at %d", tc.line, at)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}

func TestJSONScanInvalid(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		{``, 0},
		{`[1]`, 0},
		{`{`, 1},
		{`{"a"}`, 4},
		{`{"a":}`, 5},
		{`{"a":1,}`, 7},
		{`{"a":1 "b":2}`, 7},
		{`{"a":01}`, 6},
		{`{"a":1.}`, 7},
		{`{"a":1e}`, 7},
		{`{"a":-}`, 6},
		{`{"a":tru}`, 8},
		{`{"a":nul,"b":1}`, 8},
		{`{"a":"x\q"}`, 8},
		{`{"a":"\u12G4"}`, 10},
		{"{\"a\":\"tab\there\"}", 9},
		{`{"a":"open`, 10},
		{`{"a":[1,]}`, 8},
		{`{"a":{"b" 1}}`, 10},
		{`{"a":[1}`, 7},
		{`{"a":1} x`, 8},
		{`{"a":1}{}`, 7},
		{`{1:2}`, 1},
		{strings.Repeat(`{"a":`, jsonMaxDepth+1) + `1` + strings.Repeat(`}`, jsonMaxDepth+1), 5 * jsonMaxDepth},
	} {
		_, ok, at := walkAll(tc.line)
		if ok || at != tc.at {
			t.Errorf("%q: ok=%v at %d, want false at %d", tc.line, ok, at, tc.at)
		}
		// Skipping the containers instead of entering them finds the same.
		var sc jsonScan
		sc.reset(tc.line)
		for sc.next() {
		}
		if ok2, at2 := sc.end(); ok2 || at2 != tc.at {
			t.Errorf("%q skipped: ok=%v at %d, want false at %d", tc.line, ok2, at2, tc.at)
		}
	}
}

func TestJSONScanRawAndPath(t *testing.T) {
	line := `{"a":{"b":{"c":"d"},"e":[1, {"f":2}]},"g":"h\"i"}`
	var sc jsonScan
	sc.reset(line)
	var got []string
	for sc.next() {
		switch {
		case sc.key == "a":
			sc.enter()
		case sc.key == "b":
			if p := sc.path(); len(p) != 1 || p[0] != "a" || sc.parent() != "a" || sc.depth() != 1 {
				t.Errorf("b: path %q parent %q depth %d", p, sc.parent(), sc.depth())
			}
			got = append(got, sc.raw())
		default:
			got = append(got, sc.name()+"="+sc.raw())
		}
	}
	if ok, at := sc.end(); !ok {
		t.Fatalf("stopped at %d", at)
	}
	want := []string{`{"c":"d"}`, `a.e=[1, {"f":2}]`, `g="h\"i"`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestJSONScanAllocs(t *testing.T) {
	line := `{"level":"info","ts":1646861401.5241024,"request":{"remote_ip":"127.0.0.1","headers":{"User-Agent":["curl/7.82.0"]}},"status":200,"x":[1,2,{"y":null}]}`
	var sc jsonScan
	n := testing.AllocsPerRun(100, func() {
		sc.reset(line)
		for sc.next() {
			if sc.key == "request" || sc.key == "headers" {
				sc.enter()
			}
		}
	})
	if ok, at := sc.end(); !ok {
		t.Fatalf("stopped at %d", at)
	}
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}

func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"a":"b","n":-1.5e+3,"t":true,"f":false,"z":null}`,
		`{"request":{"host":"example.com","headers":{"User-Agent":["curl/7.82.0"]}},"status":200}`,
		`{"e":"q\"b\\s\/n\nt\tu\u00e9\ud83d\ude00 lone\ud800 end\udc00 \ud800\u0041"}`,
		`{"a":[[],{},[1,[2]]],"a":{"b":0.5E-2}}`,
		"{\"raw\":\"\xff\xfe\"}",
		`{"a":1,}`,
		`{"a":01}`,
		`[1]`,
		`{"a":1} x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, ok, at := scanTree(line)
		if at < 0 || at > len(line) {
			t.Fatalf("%q: at %d outside the line", line, at)
		}
		valid := json.Valid([]byte(line))
		object := valid && strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{")
		if ok != object {
			if !ok && object && nesting(line) > jsonMaxDepth {
				return
			}
			t.Fatalf("%q: scanned ok=%v (at %d), encoding/json valid=%v object=%v", line, ok, at, valid, object)
		}
		if !ok {
			return
		}
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		var want any
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(validUTF8(got), want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", line, got, want)
		}
	})
}

// scanTree decodes line through the scanner, entering every container,
// into what encoding/json decodes: objects as maps (the last of duplicate
// keys wins), numbers as json.Number.
func scanTree(line string) (any, bool, int) {
	type frame struct {
		isArray bool
		key     string
		arr     []any
		obj     map[string]any
	}
	stack := []*frame{{obj: map[string]any{}}}
	add := func(key string, v any) {
		top := stack[len(stack)-1]
		if top.isArray {
			top.arr = append(top.arr, v)
		} else {
			top.obj[key] = v
		}
	}
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.isArray {
			if top.arr == nil {
				top.arr = []any{}
			}
			add(top.key, top.arr)
		} else {
			add(top.key, top.obj)
		}
	}
	var sc jsonScan
	sc.reset(line)
	for sc.next() {
		for len(stack) > sc.open {
			pop()
		}
		switch sc.kind {
		case jsonString:
			add(sc.key, sc.value)
		case jsonNumber:
			add(sc.key, json.Number(sc.value))
		case jsonTrue:
			add(sc.key, true)
		case jsonFalse:
			add(sc.key, false)
		case jsonNull:
			add(sc.key, nil)
		default:
			f := &frame{isArray: sc.kind == jsonArray, key: sc.key}
			if !f.isArray {
				f.obj = map[string]any{}
			}
			stack = append(stack, f)
			sc.enter()
		}
	}
	for len(stack) > 1 {
		pop()
	}
	ok, at := sc.end()
	return stack[0].obj, ok, at
}

// validUTF8 replaces each invalid byte of every string by U+FFFD, as
// encoding/json does when it decodes.
func validUTF8(v any) any {
	switch v := v.(type) {
	case string:
		return string([]rune(v))
	case map[string]any:
		m := map[string]any{}
		for k, x := range v {
			m[string([]rune(k))] = validUTF8(x)
		}
		return m
	case []any:
		for i := range v {
			v[i] = validUTF8(v[i])
		}
	}
	return v
}

// nesting is how deeply line's objects and arrays nest.
func nesting(line string) int {
	d := json.NewDecoder(bytes.NewReader([]byte(line)))
	depth, most := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return most
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			most = max(most, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// BenchmarkJSONScan walks a Traefik JSON line, a flat object of 31 keys.
func BenchmarkJSONScan(b *testing.B) {
	line := `{"ClientAddr":"192.0.2.7:52144","ClientHost":"192.0.2.7","ClientPort":"52144","ClientUsername":"-","DownstreamContentSize":2326,"DownstreamStatus":200,"Duration":3164727,"OriginContentSize":2326,"OriginDuration":2906103,"OriginStatus":200,"Overhead":258624,"RequestAddr":"example.com","RequestContentSize":0,"RequestCount":42,"RequestHost":"example.com","RequestMethod":"GET","RequestPath":"/api?x=1","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"http","RetryAttempts":0,"RouterName":"web@docker","ServiceAddr":"10.0.0.5:8080","ServiceName":"web@docker","ServiceURL":"http://10.0.0.5:8080","StartLocal":"2024-01-02T13:55:36.123456789+01:00","StartUTC":"2024-01-02T12:55:36.123456789Z","entryPointName":"web","level":"info","msg":"","request_User-Agent":"curl/8.5.0","time":"2024-01-02T13:55:36+01:00"}`
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	var sc jsonScan
	for i := 0; i < b.N; i++ {
		sc.reset(line)
		for sc.next() {
		}
		if ok, at := sc.end(); !ok {
			b.Fatalf("stopped at %d", at)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// unescapeJSON decodes what encoding/json decodes, and leaves an escape it
// cannot read as written: nginx's escape=json values are cut out of lines
// that no JSON parser checked.
func TestUnescapeJSON(t *testing.T) {
	for in, want := range map[string]string{
		`plain`:                      `plain`,
		`a\"b\\c\/d`:                 `a"b\c/d`,
		`\b\f\n\r\t`:                 "\b\f\n\r\t",
		`caf\u00e9 \ud83d\ude00`:     "café 😀",
		`\ud800 \udc00 \ud800\u0041`: "\uFFFD \uFFFD \uFFFDA",
		`\ud83d`:                     "\uFFFD",
		`\u12`:                       `\u12`,
		`x\u12"`:                     `x\u12"`,
		`\uzzzz\q\`:                  `\uzzzz\q\`,
		`\x41 \\x41`:                 `\x41 \x41`,
	} {
		if got := unescapeJSON(in); got != want {
			t.Errorf("unescapeJSON(%q)=%q, want %q", in, got, want)
		}
	}
	s := "no escapes here"
	if got := unescapeJSON(s); unsafe.StringData(got) != unsafe.StringData(s) {
		t.Error("a string without escapes was copied")
	}
}

// FuzzUnescapeJSON: any body decodes without a panic, to no more bytes
// than it has; a valid one as encoding/json decodes it.
func FuzzUnescapeJSON(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\ud800\u0041`, `\u12`, `\`, `\uD83D\uDE00x\n`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got := unescapeJSON(body)
		if len(got) > len(body) {
			t.Fatalf("unescapeJSON(%q)=%q, longer", body, got)
		}
		var want string
		if utf8.ValidString(body) && json.Unmarshal([]byte(`"`+body+`"`), &want) == nil && got != want {
			t.Fatalf("unescapeJSON(%q)=%q, encoding/json reads %q", body, got, want)
		}
	})
}
