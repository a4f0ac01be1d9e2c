package format

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonKind is the kind of a JSON value.
type jsonKind uint8

const (
	jsonString jsonKind = iota + 1
	jsonNumber
	jsonTrue
	jsonFalse
	jsonNull
	jsonObject
	jsonArray
)

// jsonMaxDepth bounds how deeply objects and arrays may nest in a line,
// the top object counting as one; deeper lines do not scan. Access logs
// nest three or four levels; the bound keeps the scanner's stack a fixed
// array and its recursion short.
const jsonMaxDepth = 64

// jsonScan walks the members of one JSON object, a log line, in order:
//
//	var sc jsonScan
//	sc.reset(line)
//	for sc.next() {
//		// sc.key, sc.kind, sc.value; sc.depth() and sc.path() place it
//	}
//	ok, at := sc.end()
//
// Nested objects and arrays are skipped unless the caller calls enter
// when next stops at one; then their members come next, one level deeper
// (an array's elements with an empty key), and path names the keys that
// lead to them ("request", "headers"). raw returns a value as written
// instead. Keys and string values are substrings of the line when they
// hold no escapes, and cost one allocation when they do. The whole line
// is checked against the JSON grammar (RFC 8259) as it is walked: a line
// that breaks it stops the walk, and end says where. Invalid UTF-8 in
// strings is kept as it is; the encoders sanitise.
type jsonScan struct {
	s string
	i int // the next byte to read

	// open counts the containers open at i, the top object included;
	// inArray[d] says whether the container at level d is an array, and
	// keys[d] the key of the member that holds it.
	open    int
	inArray [jsonMaxDepth]bool
	keys    [jsonMaxDepth]string
	first   bool // no member of the innermost container read yet
	pending bool // next stopped at an object or array not yet entered

	key   string   // the member's key; "" for array elements
	kind  jsonKind // the member's value
	value string   // decoded string; a number or literal as written; "" for containers
	start int      // where the value starts in s

	done bool
	ok   bool
	at   int
}

// reset starts a walk of line, which must hold one object, optionally
// surrounded by whitespace.
func (sc *jsonScan) reset(line string) {
	*sc = jsonScan{s: line}
	i := skipJSONSpace(line, 0)
	if i == len(line) || line[i] != '{' {
		sc.fail(i)
		return
	}
	sc.i = i + 1
	sc.open = 1
	sc.first = true
}

// depth is how deeply the current member nests: 0 for the top object's
// members, 1 for those of an object they hold, and so on.
func (sc *jsonScan) depth() int { return sc.open - 1 }

// path returns the keys of the members that hold the current one, from
// the top object down: ["request", "headers"] for request.headers.X. It
// shares the scanner's memory and changes with the next call to next.
func (sc *jsonScan) path() []string { return sc.keys[1:sc.open] }

// parent is the key of the member that holds the current one; "" at the
// top level.
func (sc *jsonScan) parent() string { return sc.keys[sc.open-1] }

// name is the member's dotted name: "request.headers.User-Agent". It
// allocates below the top level.
func (sc *jsonScan) name() string {
	if sc.open == 1 {
		return sc.key
	}
	var b strings.Builder
	for _, k := range sc.path() {
		b.WriteString(k)
		b.WriteByte('.')
	}
	b.WriteString(sc.key)
	return b.String()
}

// end reports, once next has returned false, whether the line was one
// well-formed object, and if not the byte offset where it stopped.
func (sc *jsonScan) end() (ok bool, at int) { return sc.ok, sc.at }

func (sc *jsonScan) fail(at int) {
	sc.done, sc.ok, sc.at = true, false, at
	sc.pending = false
}

// next moves to the next member, leaving nested containers as it goes.
// It returns false at the end of the top object or where the line breaks
// the grammar; end tells which.
func (sc *jsonScan) next() bool {
	if sc.done {
		return false
	}
	s := sc.s
	if sc.pending {
		sc.pending = false
		j, ok := skipJSONValue(s, sc.i, sc.open)
		if !ok {
			sc.fail(j)
			return false
		}
		sc.i = j
	}
	i := sc.i
	for {
		i = skipJSONSpace(s, i)
		if i == len(s) {
			sc.fail(i)
			return false
		}
		closer := byte('}')
		if sc.inArray[sc.open-1] {
			closer = ']'
		}
		c := s[i]
		if c == closer {
			i++
			sc.open--
			sc.first = false
			if sc.open == 0 {
				i = skipJSONSpace(s, i)
				sc.done = true
				sc.ok = i == len(s)
				sc.at = i
				return false
			}
			continue
		}
		if !sc.first {
			if c != ',' {
				sc.fail(i)
				return false
			}
			i = skipJSONSpace(s, i+1)
			if i == len(s) {
				sc.fail(i)
				return false
			}
		}
		sc.first = false
		break
	}

	// A member: "key": value in an object, a value in an array.
	sc.key = ""
	if !sc.inArray[sc.open-1] {
		if s[i] != '"' {
			sc.fail(i)
			return false
		}
		k, j, ok := readJSONString(s, i)
		if !ok {
			sc.fail(j)
			return false
		}
		sc.key = k
		i = skipJSONSpace(s, j)
		if i == len(s) || s[i] != ':' {
			sc.fail(i)
			return false
		}
		i = skipJSONSpace(s, i+1)
		if i == len(s) {
			sc.fail(i)
			return false
		}
	}
	sc.start = i
	sc.value = ""
	switch c := s[i]; {
	case c == '"':
		v, j, ok := readJSONString(s, i)
		if !ok {
			sc.fail(j)
			return false
		}
		sc.kind, sc.value, i = jsonString, v, j
	case c == '-' || '0' <= c && c <= '9':
		j, ok := scanJSONNumber(s, i)
		if !ok {
			sc.fail(j)
			return false
		}
		sc.kind, sc.value, i = jsonNumber, s[i:j], j
	case c == 't' || c == 'f' || c == 'n':
		k, j, ok := scanJSONLiteral(s, i)
		if !ok {
			sc.fail(j)
			return false
		}
		sc.kind, sc.value, i = k, s[i:j], j
	case c == '{':
		sc.kind, sc.pending = jsonObject, true
	case c == '[':
		sc.kind, sc.pending = jsonArray, true
	default:
		sc.fail(i)
		return false
	}
	sc.i = i
	return true
}

// enter makes the members of the object or array next stopped at come
// next. It does nothing for other values.
func (sc *jsonScan) enter() {
	if !sc.pending {
		return
	}
	sc.pending = false
	if sc.open == jsonMaxDepth {
		sc.fail(sc.i)
		return
	}
	sc.keys[sc.open] = sc.key
	sc.inArray[sc.open] = sc.kind == jsonArray
	sc.open++
	sc.i++
	sc.first = true
}

// raw returns the current value as written: a string with its quotes
// and escapes, an object or array whole (checked, and then skipped). It
// returns "" when the container breaks the grammar; next then returns
// false.
func (sc *jsonScan) raw() string {
	if !sc.pending {
		return sc.s[sc.start:sc.i]
	}
	sc.pending = false
	j, ok := skipJSONValue(sc.s, sc.i, sc.open)
	if !ok {
		sc.fail(j)
		return ""
	}
	sc.i = j
	return sc.s[sc.start:j]
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipJSONValue checks the value at s[i] (whitespace skipped already)
// and returns the index after it; open is how many containers hold it.
// On false, the index is where the value breaks the grammar.
func skipJSONValue(s string, i, open int) (int, bool) {
	if i == len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		return scanJSONString(s, i)
	case c == '-' || '0' <= c && c <= '9':
		return scanJSONNumber(s, i)
	case c == 't' || c == 'f' || c == 'n':
		_, j, ok := scanJSONLiteral(s, i)
		return j, ok
	case c == '{' || c == '[':
		if open == jsonMaxDepth {
			return i, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipJSONSpace(s, i+1)
		if i < len(s) && s[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i == len(s) || s[i] != '"' {
					return i, false
				}
				if i, ok = scanJSONString(s, i); !ok {
					return i, false
				}
				i = skipJSONSpace(s, i)
				if i == len(s) || s[i] != ':' {
					return i, false
				}
				i = skipJSONSpace(s, i+1)
			}
			if i, ok = skipJSONValue(s, i, open+1); !ok {
				return i, false
			}
			i = skipJSONSpace(s, i)
			if i == len(s) {
				return i, false
			}
			switch s[i] {
			case closer:
				return i + 1, true
			case ',':
				i = skipJSONSpace(s, i+1)
			default:
				return i, false
			}
		}
	}
	return i, false
}

// scanJSONNumber checks the number at s[i] and returns the index after
// it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanJSONNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return i, false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		i = skipDigits(s, i+1)
	default:
		return i, false
	}
	if i < len(s) && s[i] == '.' {
		j := skipDigits(s, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := skipDigits(s, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// scanJSONLiteral checks true, false or null at s[i].
func scanJSONLiteral(s string, i int) (jsonKind, int, bool) {
	var k jsonKind
	var lit string
	switch s[i] {
	case 't':
		k, lit = jsonTrue, "true"
	case 'f':
		k, lit = jsonFalse, "false"
	default:
		k, lit = jsonNull, "null"
	}
	if !strings.HasPrefix(s[i:], lit) {
		// Point at the first byte that differs.
		j := i
		for j < len(s) && j-i < len(lit) && s[j] == lit[j-i] {
			j++
		}
		return k, j, false
	}
	return k, i + len(lit), true
}

// scanJSONString checks the string whose quote is at s[i] and returns
// the index after its closing quote.
func scanJSONString(s string, i int) (int, bool) {
	j, _, ok := scanJSONStringEsc(s, i)
	return j, ok
}

// scanJSONStringEsc is scanJSONString that also says whether the string
// has escapes.
func scanJSONStringEsc(s string, i int) (next int, esc, ok bool) {
	j := i + 1
	for {
		for j < len(s) && jsonPlain[s[j]] {
			j++
		}
		if j == len(s) {
			return j, esc, false
		}
		switch s[j] {
		case '"':
			return j + 1, esc, true
		case '\\':
			esc = true
			if j+1 == len(s) {
				return j + 1, esc, false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k == len(s) {
						return k, esc, false
					}
					if _, ok := unhex(s[k]); !ok {
						return k, esc, false
					}
				}
				j += 6
			default:
				return j + 1, esc, false
			}
		default: // a control byte
			return j, esc, false
		}
	}
}

// jsonPlain tells the bytes that stand for themselves in a JSON string.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// readJSONString reads the string whose quote is at s[i]: its decoded
// text and the index after it. Without escapes the text is a substring
// of s; with escapes it is built in one allocation.
func readJSONString(s string, i int) (string, int, bool) {
	j, esc, ok := scanJSONStringEsc(s, i)
	if !ok {
		return "", j, false
	}
	if !esc {
		return s[i+1 : j-1], j, true
	}
	return unescapeJSON(s[i+1 : j-1]), j, true
}

// unescapeJSON decodes the escapes of a JSON string's body: \" \\ \/ \b
// \f \n \r \t and \uXXXX, a surrogate pair as one character and a lone
// half as U+FFFD, as encoding/json does. It serves the bodies the scanner
// checked, Docker's log strings and the values nginx's escape=json wrote
// into a line that no JSON parser checks: there, an unknown or broken
// escape ("\u12") stays as written. Without escapes s is returned as it
// is; with them, the text costs one allocation.
func unescapeJSON(s string) string {
	k := strings.IndexByte(s, '\\')
	if k < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:k])
	for i := k; i < len(s); {
		if s[i] != '\\' || i+1 == len(s) {
			// Copy the run up to the next escape at once.
			n := strings.IndexByte(s[i+1:], '\\')
			if n < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+1+n])
			i += 1 + n
			continue
		}
		if d := jsonEscapes[s[i+1]]; d != 0 {
			b.WriteByte(d)
			i += 2
			continue
		}
		r, ok := rune(0), false
		if s[i+1] == 'u' {
			r, ok = hex4At(s, i+2)
		}
		if !ok {
			b.WriteByte('\\') // and what follows is read as it is
			i++
			continue
		}
		i += 6
		if utf16.IsSurrogate(r) {
			r2 := rune(-1) // the other half, as another \u
			if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if lo, ok := hex4At(s, i+2); ok {
					r2 = lo
				}
			}
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				r = d
				i += 6
			} else {
				r = utf8.RuneError
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jsonEscapes maps the byte after a backslash to the byte it stands for,
// for JSON's one-letter escapes; 0 for the others.
var jsonEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4At reads the four hex digits at s[i], if they are there.
func hex4At(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		h, ok := unhex(s[k])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}
