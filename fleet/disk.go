package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The publish buffer on disk (PublisherConfig.BufferFile) is one
// append-only file: a header line, then one entry per event, each
//
//	uint32 length of body | uint32 CRC-32C of body | body
//
// (big-endian), where body is either a record, 'r' followed by the time
// it was read (varint, Unix ns), its subject and its msg id (each a
// uvarint length and the bytes) and its wire form (the rest), or a done
// mark, 'd' followed by a uvarint count: the first count records of the
// file are in the stream. What waits is every record after the last done
// mark.
//
// Publish appends each record before it returns; acknowledgements add a
// done mark now and then (see tidy), and once the done part holds
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
const diskHeader = "weblogd NATS publish buffer 1\n"

const (
	entryRecord = 'r'
	entryDone   = 'd'
	// maxEntry bounds an entry's length when reading, so that a corrupt
	// length cannot ask for gigabytes: records are lines, cut at
	// --max-line (64 KiB by default), a few times over in JSON.
	maxEntry = 16 << 20
	// compactMin is how many done records the file holds before it is
	// worth rewriting while records still wait.
	compactMin = 4096
	// rewriteRetry paces the rewrites of a file that a write failed on.
	rewriteRetry = time.Second
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

// readDisk reads the buffer file at path, a missing one being empty, and
// returns the records that wait in it, oldest first. A file whose end
// does not decode (a crash while writing, a bad disk) gives back the
// records before the damage and describes it in corrupt.
func readDisk(path string) (recs []pending, corrupt error, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the NATS publish buffer: %w", err)
	}
	if len(b) == 0 {
		return nil, nil, nil // created, then a crash before the header
	}
	if len(b) < len(diskHeader) || string(b[:len(diskHeader)]) != diskHeader {
		return nil, fmt.Errorf("%s is not a weblogd NATS publish buffer (%d bytes)", path, len(b)), nil
	}
	off := len(diskHeader)
	done := 0
	for off < len(b) {
		body, n, err := readEntry(b[off:])
		if err == nil {
			err = decodeEntry(body, &recs, &done)
		}
		if err != nil {
			kept := len(recs) - min(done, len(recs))
			return recs[min(done, len(recs)):], fmt.Errorf("%s: %w at byte %d of %d; kept the %d waiting records before it", path, err, off, len(b), kept), nil
		}
		off += n
	}
	return recs[min(done, len(recs)):], nil, nil
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

func decodeEntry(body []byte, recs *[]pending, done *int) error {
	kind, b := body[0], body[1:]
	switch kind {
	case entryDone:
		n, k := binary.Uvarint(b)
		if k <= 0 || k != len(b) || n > uint64(len(*recs)) {
			return errors.New("a bad done mark")
		}
		*done = max(*done, int(n))
		return nil
	case entryRecord:
		at, k := binary.Varint(b)
		if k <= 0 {
			return errors.New("a bad record")
		}
		b = b[k:]
		var m pending
		for _, s := range []*string{&m.subject, &m.id} {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return errors.New("a bad record")
			}
			*s, b = string(b[k:k+int(n)]), b[k+int(n):]
		}
		m.data = append([]byte(nil), b...)
		m.at = time.Unix(0, at)
		*recs = append(*recs, m)
		return nil
	}
	return fmt.Errorf("an unknown entry %q", kind)
}

// openDisk writes a new buffer file at path holding recs (only what
// waits, without a damaged tail) in place of the old one, and opens it
// for appending.
func openDisk(path string, recs []pending) (*diskBuffer, error) {
	d := &diskBuffer{path: path}
	if err := d.rewrite(recs); err != nil {
		return nil, err
	}
	return d, nil
}

// rewrite replaces the file with one holding recs, atomically: a crash
// leaves the old file or the new one.
func (d *diskBuffer) rewrite(recs []pending) error {
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
	for _, m := range recs {
		b = appendRecord(b, m)
		if len(b) >= 1<<20 {
			if _, err := tmp.Write(b); err != nil {
				return fail(err)
			}
			b = b[:0]
		}
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
	d.records, d.done, d.marked = len(recs), 0, 0
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
	for _, s := range []string{m.subject, m.id} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, m.data...)
	return frame(b, start)
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

// remove counts n records from the start as done (acknowledged); tidy
// writes it down.
func (d *diskBuffer) remove(n int) {
	d.done = min(d.done+n, d.records)
}

// tidy writes down what is done: it rewrites the file with waiting (the
// records that wait, oldest first) when a write failed or when its done
// part is large (truncates it when nothing waits), and otherwise appends
// a done mark if the last one is out of date. final (at Close) truncates
// a file of which all is done whatever its size, so that it is left
// empty.
func (d *diskBuffer) tidy(waiting func() []pending, final bool) error {
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
		// rate): a done mark costs less than a truncation.
		if err := d.f.Truncate(int64(len(diskHeader))); err != nil {
			d.broken = true
			return fmt.Errorf("truncate the NATS publish buffer %s: %w", d.path, err)
		}
		if _, err := d.f.Seek(0, io.SeekEnd); err != nil {
			d.broken = true
			return fmt.Errorf("truncate the NATS publish buffer %s: %w", d.path, err)
		}
		d.records, d.done, d.marked, d.dirty = 0, 0, 0, true
		return nil
	case large && d.done >= d.records-d.done:
		return d.rewrite(waiting())
	case d.done != d.marked:
		d.scratch = append(d.scratch[:0], 0, 0, 0, 0, 0, 0, 0, 0, entryDone)
		d.scratch = frame(binary.AppendUvarint(d.scratch, uint64(d.done)), 0)
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
