package stats

import (
	"unsafe"

	"github.com/weblogd/weblogd/record"
)

// held is one record in detail, with the time it counts at.
type held struct {
	r    *record.Record
	t    int64 // unix nanoseconds
	size int64 // its estimated memory
}

// heldSize is what a slot of the detail ring costs, beside the record.
const heldSize = int64(unsafe.Sizeof(held{}))

// recordSize is the fixed part of a record's memory.
const recordSize = int64(unsafe.Sizeof(record.Record{}))

// detail holds the newest records themselves, oldest first, within limit
// bytes by estimate. The records are shared with the hub's ring, so they
// cost nothing more while the ring still holds them; the estimate counts
// them anyway, as if detail alone kept them.
type detail struct {
	limit int64
	bytes int64
	buf   []held // ring
	head  int    // index of the oldest
	n     int
}

// sizeOf estimates r's memory: the struct, its line, the strings that are
// not cut from its line, and its fields.
func sizeOf(r *record.Record) int64 {
	n := recordSize + int64(len(r.Line))
	// #nosec G103 -- only the addresses are compared, to tell a substring of the line; nothing is read through them
	lo := uintptr(unsafe.Pointer(unsafe.StringData(r.Line)))
	hi := lo + uintptr(len(r.Line))
	add := func(s string) {
		if s == "" {
			return
		}
		// #nosec G103 -- as above: an address compared, never dereferenced
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if len(r.Line) > 0 && p >= lo && p+uintptr(len(s)) <= hi {
			return
		}
		n += int64(len(s))
	}
	add(r.Source)
	add(r.Node)
	add(r.VHost)
	add(r.Host)
	add(r.Ident)
	add(r.User)
	add(r.Method)
	add(r.Path)
	add(r.Proto)
	add(r.Request)
	add(r.Referer)
	add(r.Agent)
	add(r.Extra)
	n += int64(cap(r.Fields)) * int64(unsafe.Sizeof(record.Pair{}))
	for _, p := range r.Fields {
		add(p.Name)
		add(p.Value)
	}
	return n
}

func (d *detail) push(r *record.Record, t int64) {
	if d.n == len(d.buf) {
		d.grow()
	}
	sz := sizeOf(r)
	d.buf[(d.head+d.n)%len(d.buf)] = held{r, t, sz}
	d.n++
	d.bytes += sz
}

func (d *detail) grow() {
	nb := make([]held, max(16, 2*len(d.buf)))
	for i := 0; i < d.n; i++ {
		nb[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	// The ring's own slots count against the limit.
	d.bytes += int64(len(nb)-len(d.buf)) * heldSize
	d.buf, d.head = nb, 0
}

// over says whether detail holds more than its limit and a record could
// leave it.
func (d *detail) over() bool { return d.bytes > d.limit && d.n > 0 }

// pop takes out the oldest record.
func (d *detail) pop() held {
	e := d.buf[d.head]
	d.buf[d.head] = held{}
	d.head = (d.head + 1) % len(d.buf)
	d.n--
	d.bytes -= e.size
	return e
}

// each calls f with every record held, oldest first.
func (d *detail) each(f func(*held)) {
	for i := 0; i < d.n; i++ {
		f(&d.buf[(d.head+i)%len(d.buf)])
	}
}
