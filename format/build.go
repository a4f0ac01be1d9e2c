package format

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// builder turns the variables or directives of a format, in order, into
// a program. The nginx and Apache compilers share it, so both follow the
// same rules: the first variable that can fill a record field fills it,
// and every other one is kept under Fields.
type builder struct {
	p       program
	lit     []byte // literal text since the last slot
	claimed uint16 // the record fields already filled by a slot
	names   map[string]int
}

// The record fields a slot may fill.
const (
	bHost uint16 = 1 << iota
	bIdent
	bUser
	bVHost
	bMethod
	bPath
	bProto
	bStatus
	bBytes
	bReferer
	bAgent
	bDuration
	bUpstream
	bTime
	bURI   // the path is a kURI, which a query may join
	bQuery // a query joined it
)

// fills returns the record fields a slot of kind k fills.
func fills(k kind) uint16 {
	switch k {
	case kHost:
		return bHost
	case kIdent:
		return bIdent
	case kUser:
		return bUser
	case kVHost:
		return bVHost
	case kRequest:
		return bMethod | bPath | bProto
	case kMethod:
		return bMethod
	case kPath:
		return bPath
	case kURI:
		return bPath | bURI
	case kProto:
		return bProto
	case kStatus:
		return bStatus
	case kBytes:
		return bBytes
	case kReferer:
		return bReferer
	case kAgent:
		return bAgent
	case kSeconds, kMillis, kMicros:
		return bDuration
	case kUpstream:
		return bUpstream
	}
	if k.whole() {
		return bTime
	}
	return 0
}

func (b *builder) literal(s string) { b.lit = append(b.lit, s...) }

// add appends a slot for a value of kind sl.kind, or of kField under
// sl.name when what it would fill is already filled.
func (b *builder) add(sl slot) error {
	lit := string(b.lit)
	b.lit = b.lit[:0]
	var prev *slot
	if n := len(b.p.slots); n == 0 {
		b.p.lead = lit
	} else {
		prev = &b.p.slots[n-1]
		prev.lit = lit
		if lit == "" && prev.width == 0 && prev.class == noClass {
			return fmt.Errorf("column %d: %s directly follows %s, so nothing tells where %s ends",
				sl.col, sl.label, prev.label, prev.label)
		}
	}
	switch k := sl.kind; {
	case k == kPort:
		// "$host:$server_port", "%v:%p": the vhost as the CLF prefix writes it.
		if prev == nil || prev.kind != kVHost || lit != ":" {
			sl.kind = kField
		}
	case k == kArgs || k == kQuery:
		if b.claimed&(bURI|bQuery) != bURI {
			sl.kind = kField
		} else {
			b.claimed |= bQuery
			b.p.path = true
		}
	case k == kIsArgs:
		if b.claimed&(bURI|bQuery) != bURI {
			sl.kind = kField
		}
	case k.isPiece():
		// The pieces of a strftime time join whatever time came before.
		b.claimed |= bTime
		b.p.pieces = true
	default:
		need := fills(k)
		if b.claimed&need != 0 {
			sl.kind = kField
		}
		b.claimed |= need
	}
	if sl.kind == kField {
		sl.name = b.unique(sl.name)
		b.p.nfields++
	}
	b.p.slots = append(b.p.slots, sl)
	return nil
}

// unique returns name, or name_2, name_3... when the format already
// keeps a value under it: a JSON object cannot hold one key twice.
func (b *builder) unique(name string) string {
	if b.names == nil {
		b.names = map[string]int{}
	}
	n := b.names[name] + 1
	b.names[name] = n
	if n == 1 {
		return name
	}
	u := name + "_" + strconv.Itoa(n)
	if b.names[u] > 0 {
		return b.unique(name)
	}
	b.names[u] = 1
	return u
}

// done returns the program, its slots told how to find their ends.
func (b *builder) done() *program {
	p := &b.p
	n := len(p.slots)
	if n > 0 {
		p.slots[n-1].lit = string(b.lit)
	} else {
		p.lead = string(b.lit)
	}
	for k := range p.slots {
		sl := &p.slots[k]
		last := k == n-1
		switch {
		case sl.width > 0:
			sl.mode = fixed
		case sl.lit == "" && last:
			sl.mode = toEnd
		case sl.lit == "":
			sl.mode = byClass
		case last:
			sl.mode = toLast
		default:
			sl.mode = toLit
		}
	}
	return p
}

// source is a format's text with, for each byte, its offset in the
// string the user gave, so that errors name the user's column.
type source struct {
	spec string
	text []byte
	pos  []int
}

func (s *source) add(c byte, off int) {
	s.text = append(s.text, c)
	s.pos = append(s.pos, off)
}

// col returns the column, counted in characters from 1, of byte i of the
// text in the user's string.
func (s *source) col(i int) int {
	off := len(s.spec)
	if i < len(s.pos) {
		off = s.pos[i]
	}
	return column(s.spec, off)
}

// column returns the column, counted in characters from 1, of byte off
// of spec.
func column(spec string, off int) int {
	return utf8.RuneCountInString(spec[:min(off, len(spec))]) + 1
}
