package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The publish buffer on disk (PublisherConfig.BufferFile) is one
// append-only file: a header line, then one entry per event, each
//
//	uint32 length of body | uint32 CRC-32C of body | body
//
// (big-endian), where body is one of
//
//   - a record: 'r', the time it was queued (varint, Unix ns), its source
//     and its file (each a uvarint length and the bytes), its offset in
//     the file or, without a file, its seq (varint), and its wire form
//     (the rest);
//   - a batch: 'b' and a uvarint count: the next count records not yet in
//     a batch were sent as one, so that a restart sends them again as the
//     same batch, with the same id;
//   - a done mark: 'd' and a uvarint count: the first count records of
//     the file are in the stream;
//   - a line mark: 'l', a file and an offset: a line of that file up to
//     which records were queued, kept when the records are gone (see
//     Publisher.PublishWait).
//
// What waits is every record after the last done mark.
//
// Publish appends each record before it returns, and the sender each
// batch before it sends it; acknowledgements add a done mark now and then
// (see tidy), and once the done part holds
// compactMin records and outgrows the rest, the file is rewritten with
// only what waits, or truncated to its header when nothing does (so that
// it stays within about twice the buffer, and rewriting costs at most one
// write of each record written). A record dropped from a full buffer
// (see Publisher) is never written.
//
// What a crash can cost: a crash of the process costs nothing, as every
// record is in the file (in the kernel's cache) before Publish returns,
// so before the log's checkpoint can move past its line. A crash of the
// machine loses what was written since the last fsync; Sync does one,
// and the feed calls it before each checkpoint it saves, so the
// checkpoint never moves past a line whose record could be lost: the
// line is read again instead. A done mark lost with the cache only makes
// the next start send some records again, which the stream drops as
// duplicates (within its duplicate window, 10 minutes by default).
const diskHeader = "weblogd NATS publish buffer 2\n"

// diskHeaderV1 starts the file of versions whose records were one JSON
// message each: its records are read, and sent in batches.
const diskHeaderV1 = "weblogd NATS publish buffer 1\n"

const (
	entryRecord = 'r'
	entryBatch  = 'b'
	entryDone   = 'd'
	entryLine   = 'l'
	// maxEntry bounds an entry's length when reading, so that a corrupt
	// length cannot ask for gigabytes: records are lines, cut at
	// --max-line (64 KiB by default), a few times over in JSON.
	maxEntry = 16 << 20
	// compactMin is how many done records the file holds before it is
	// worth rewriting while records still wait.
	compactMin = 4096
	// rewriteRetry paces the rewrites of a file that a write failed on.
	rewriteRetry = time.Second
	// lineMarkKeep is how long a line mark is kept after the last record
	// of its file: far longer than between two checkpoints.
	lineMarkKeep = time.Hour
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// diskBuffer is the open buffer file. Its owner (the Publisher) holds
// its lock around every call.
type diskBuffer struct {
	path    string
	f       *os.File
	records int       // record entries in the file
	done    int       // of them, how many from the start are done
	marked  int       // what the last done mark in the file says
	dirty   bool      // written since the last fsync
	broken  bool      // a write failed: records in memory are missing here
	tried   time.Time // the last rewrite while broken
	scratch []byte
}

// held is what a buffer file holds: the records that wait, oldest first;
// the sizes of the batches they were sent in, from the oldest on (the
// rest were not sent); and the line marks, by file.
type held struct {
	recs  []pending
	seals []int
	lines map[string]lineMark
}

// lineMark is the offset of the last line of a file queued, and when.
type lineMark struct {
	off int64
	at  time.Time
}

// readDisk reads the buffer file at path, a missing one being empty, and
// returns what waits in it. Of a file whose end does not decode (a write
// cut short, a bad disk) it gives the entries up to the first bad one,
// and describes the rest in corrupt.
func readDisk(path string) (h held, corrupt error, err error) {
	h.lines = map[string]lineMark{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil, nil
	}
	if err != nil {
		return h, nil, fmt.Errorf("read the NATS publish buffer: %w", err)
	}
	if len(b) == 0 {
		return h, nil, nil // created, then a crash before the header
	}
	v1 := len(b) >= len(diskHeaderV1) && string(b[:len(diskHeaderV1)]) == diskHeaderV1
	if !v1 && (len(b) < len(diskHeader) || string(b[:len(diskHeader)]) != diskHeader) {
		return h, fmt.Errorf("%s is not a weblogd NATS publish buffer (%d bytes)", path, len(b)), nil
	}
	r := diskReader{v1: v1, held: h}
	off := len(diskHeader)
	for off < len(b) {
		body, n, err := readEntry(b[off:])
		if err == nil {
			err = r.entry(body)
		}
		if err != nil {
			h := r.waiting()
			return h, fmt.Errorf("%s: %w at byte %d of %d; kept the %d waiting records before it", path, err, off, len(b), len(h.recs)), nil
		}
		off += n
	}
	return r.waiting(), nil, nil
}

// diskReader reads the entries of a buffer file in order.
type diskReader struct {
	held
	v1     bool
	done   int
	sealed int
}

// waiting is what waits once every entry read so far is applied: the
// records after the last done mark, and the batches among them.
func (r *diskReader) waiting() held {
	h := held{recs: r.recs[r.done:], lines: r.lines}
	at := 0
	for i, n := range r.seals {
		if at == r.done { // done marks fall between batches
			h.seals = r.seals[i:]
			break
		}
		at += n
	}
	for _, m := range r.recs {
		if l, ok := r.lines[m.file]; m.file != "" && (!ok || m.off > l.off) {
			r.lines[m.file] = lineMark{m.off, m.at}
		}
	}
	return h
}

func (r *diskReader) entry(body []byte) error {
	kind, b := body[0], body[1:]
	switch kind {
	case entryDone, entryBatch:
		n, k := binary.Uvarint(b)
		if k <= 0 || k != len(b) {
			return fmt.Errorf("a bad entry %q", kind)
		}
		if kind == entryDone {
			if n > uint64(len(r.recs)) {
				return errors.New("a bad done mark")
			}
			r.done = max(r.done, int(n))
			return nil
		}
		if n == 0 || n > uint64(len(r.recs)-r.sealed) {
			return errors.New("a bad batch")
		}
		r.seals = append(r.seals, int(n))
		r.sealed += int(n)
		return nil
	case entryLine:
		d := decoder{b: b}
		file, off := d.string(), d.varint()
		if d.bad || len(d.b) != 0 {
			return errors.New("a bad line mark")
		}
		if l := r.lines[file]; off > l.off {
			r.lines[file] = lineMark{off, time.Now()}
		}
		return nil
	case entryRecord:
		d := decoder{b: b}
		at := d.varint()
		var m pending
		if r.v1 {
			m = r.recordV1(&d)
		} else {
			m.source, m.file, m.off = d.string(), d.string(), d.varint()
			m.data = append([]byte(nil), d.b...)
		}
		if d.bad {
			return errors.New("a bad record")
		}
		m.at = time.Unix(0, at)
		r.recs = append(r.recs, m)
		return nil
	}
	return fmt.Errorf("an unknown entry %q", kind)
}

// recordV1 reads the rest of a record of a version 1 file: its subject,
// its message id (node, source and key) and its JSON form.
func (r *diskReader) recordV1(d *decoder) pending {
	d.string() // the subject, made again from the source
	id := strings.Split(d.string(), "\x1f")
	rec, err := decodeJSON(d.b)
	if d.bad || err != nil || len(id) != 3 {
		d.bad = true
		return pending{}
	}
	m := pending{source: rec.Source, data: appendWire(nil, rec)}
	key := id[2]
	i := strings.LastIndexByte(key, ':')
	off, err := strconv.ParseInt(key[i+1:], 10, 64)
	if i < 0 || err != nil {
		d.bad = true
		return pending{}
	}
	if key[:i] != "seq" {
		m.file = key[:i]
	}
	m.off = off
	return m
}

// readEntry returns the body of the entry at the start of b and the
// length of the whole entry.
func readEntry(b []byte) ([]byte, int, error) {
	if len(b) < 8 {
		return nil, 0, errors.New("a torn entry")
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > maxEntry {
		return nil, 0, fmt.Errorf("a bad entry length %d", n)
	}
	if uint64(len(b)-8) < uint64(n) {
		return nil, 0, errors.New("a torn entry")
	}
	body := b[8 : 8+n]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return nil, 0, errors.New("a checksum mismatch")
	}
	return body, 8 + int(n), nil
}

// openDisk writes a new buffer file at path holding h (only what waits,
// without a damaged tail) in place of the old one, and opens it for
// appending.
func openDisk(path string, h held) (*diskBuffer, error) {
	d := &diskBuffer{path: path}
	if err := d.rewrite(h); err != nil {
		return nil, err
	}
	return d, nil
}

// rewrite replaces the file with one holding h, atomically: a crash
// leaves the old file or the new one. Line marks older than lineMarkKeep
// are left out.
func (d *diskBuffer) rewrite(h held) error {
	dir := filepath.Dir(d.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(d.path)+".*")
	if err != nil {
		return fmt.Errorf("write the NATS publish buffer: %w", err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write the NATS publish buffer: %w", err)
	}
	b := []byte(diskHeader)
	flush := func() error {
		if len(b) < 1<<20 {
			return nil
		}
		_, err := tmp.Write(b)
		b = b[:0]
		return err
	}
	for file, l := range h.lines {
		if time.Since(l.at) < lineMarkKeep {
			b = appendLineMark(b, file, l.off)
		}
	}
	for _, m := range h.recs {
		b = appendRecord(b, m)
		if err := flush(); err != nil {
			return fail(err)
		}
	}
	for _, n := range h.seals {
		b = appendCount(b, entryBatch, n)
	}
	if _, err := tmp.Write(b); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), d.path); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		tmp.Close()
		return fmt.Errorf("write the NATS publish buffer: %w", err)
	}
	if d.f != nil {
		d.f.Close()
	}
	// tmp, now at the path, is open for writing at its end.
	d.f = tmp
	d.records, d.done, d.marked = len(h.recs), 0, 0
	d.dirty, d.broken = false, false
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// appendRecord appends m's entry to b.
func appendRecord(b []byte, m pending) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, entryRecord)
	b = binary.AppendVarint(b, m.at.UnixNano())
	b = appendString(b, m.source)
	b = appendString(b, m.file)
	b = binary.AppendVarint(b, m.off)
	b = append(b, m.data...)
	return frame(b, start)
}

// appendCount appends a batch or done entry.
func appendCount(b []byte, kind byte, n int) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, kind)
	return frame(binary.AppendUvarint(b, uint64(n)), start)
}

// appendLineMark appends a line mark.
func appendLineMark(b []byte, file string, off int64) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, entryLine)
	b = appendString(b, file)
	return frame(binary.AppendVarint(b, off), start)
}

// frame fills in the length and checksum of the entry at b[start:].
func frame(b []byte, start int) []byte {
	body := b[start+8:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(body, castagnoli))
	return b
}

// write appends b to the file. A failed write may leave part of an
// entry: the file is then broken until tidy rewrites it.
func (d *diskBuffer) write(b []byte) error {
	if _, err := d.f.Write(b); err != nil {
		d.broken = true
		return fmt.Errorf("write the NATS publish buffer %s: %w", d.path, err)
	}
	d.dirty = true
	return nil
}

// add appends a record that now waits.
func (d *diskBuffer) add(m pending) error {
	if d.broken {
		return nil // the rewrite will have it
	}
	d.scratch = appendRecord(d.scratch[:0], m)
	if err := d.write(d.scratch); err != nil {
		return err
	}
	d.records++
	return nil
}

// seal writes down that the next n records not in a batch were sent as
// one.
func (d *diskBuffer) seal(n int) error {
	if d.broken {
		return nil // the rewrite will have it
	}
	d.scratch = appendCount(d.scratch[:0], entryBatch, n)
	if err := d.write(d.scratch); err != nil {
		return err
	}
	return nil
}

// remove counts n records from the start as done (acknowledged); tidy
// writes it down.
func (d *diskBuffer) remove(n int) {
	d.done = min(d.done+n, d.records)
}

// tidy writes down what is done: it rewrites the file with waiting (what
// waits) when a write failed or when its done part is large, and
// otherwise appends a done mark if the last one is out of date. final (at
// Close) rewrites a file of which all is done whatever its size, so that
// it is left with no record.
func (d *diskBuffer) tidy(waiting func() held, final bool) error {
	large := d.done >= compactMin
	switch {
	case d.broken:
		if !final && time.Since(d.tried) < rewriteRetry {
			return nil
		}
		d.tried = time.Now()
		return d.rewrite(waiting())
	case d.records > 0 && d.done == d.records && (large || final):
		// Not at every moment nothing waits (after each record, at a low
		// rate): a done mark costs less than a rewrite.
		return d.rewrite(waiting())
	case large && d.done >= d.records-d.done:
		return d.rewrite(waiting())
	case d.done != d.marked:
		d.scratch = appendCount(d.scratch[:0], entryDone, d.done)
		if err := d.write(d.scratch); err != nil {
			return err
		}
		d.marked = d.done
	}
	return nil
}

// waiting is how many records wait in the file.
func (d *diskBuffer) waiting() int {
	if d.broken {
		return 0 // unknown until the rewrite: say none is safe
	}
	return d.records - d.done
}

// syncFile returns the file to fsync, if it was written since the last
// one; the caller syncs it without the lock (a rewrite meanwhile syncs
// the new file itself and closes this one: os.ErrClosed is then no
// failure).
func (d *diskBuffer) syncFile() *os.File {
	if !d.dirty {
		return nil
	}
	d.dirty = false
	return d.f
}

func (d *diskBuffer) close() error {
	return d.f.Close()
}
