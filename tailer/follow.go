package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// readBufBytes is how much one read asks for. 64 KiB is a few hundred
	// access-log lines, so a busy log costs a read per few hundred lines,
	// and it bounds, with MaxLineBytes, what following a file holds in
	// memory however long its lines or however fast it grows.
	readBufBytes = 64 << 10

	// rescanBytes bounds how much of a line without its "\n" yet is read
	// again with the next read, instead of only what follows it. Reading
	// the start again makes a line that was half-written (or written in
	// place over preallocated bytes, or read as NULs from NFS before the
	// data arrived) come out as it finally is, and costs nothing for
	// lines of normal length. It must stay well below readBufBytes so
	// that every read still gets new bytes; a longer partial line is only
	// scanned onwards, and its kept start is read again once its "\n" is
	// there.
	rescanBytes = 16 << 10

	// pollInterval is how often a follower looks at the path and its files
	// even when no change was notified: the safety net for changes inotify
	// does not report (writes through a shared mapping, network
	// filesystems, a lost event queue, a directory replaced). A look is a
	// stat and a read or two; on an idle log that is nothing.
	pollInterval = 250 * time.Millisecond

	// maxRotated caps the rotated files kept open for draining. A writer
	// that never reopens keeps its old file growing, and that file is kept
	// as long as it grows; but rotations faster than the writer reopens
	// would otherwise pile up descriptors. Past the cap the oldest is read
	// to its end and closed.
	maxRotated = 16
)

// follower is the state of one Run: the file at the path and the rotated
// files still being drained. Only Run's goroutine touches it, except for
// the fields Positions reads (Tailer.f, cur, old, file.id, file.done),
// which change under Tailer.mu.
type follower struct {
	ctx  context.Context
	t    *Tailer
	emit func(Line)
	dir  string
	base string

	n    *notifier     // nil: polling only
	wake chan struct{} // capacity 1: a change to an open file was notified
	// pathWake (capacity 1) is notified of changes to the directory entry:
	// a rename, a create, a delete. pathDirty says the path must be looked
	// at again before the next read: stat-ing it on every wake-up would be
	// one more system call per line written on a busy log.
	pathWake  chan struct{}
	pathDirty bool
	dirReg    *registration
	dirID     FileID // the directory watched by dirReg

	cur    *file      // the file at the path; nil while there is none
	old    []*file    // rotated files still read, in the order they left the path
	closed []Position // where the last maxRotated closed files were left, should one come back

	buf     []byte // reads of the current file
	oldBuf  []byte // reads of rotated files, while a read of the current one waits
	lineBuf []byte // the kept start of a line longer than a read
	headBuf []byte // the first bytes of a file, to check its fingerprint
	endBuf  []byte // the bytes before a long line, to check them

	lastErr     string // the last error logged, to log each distinct one once
	watchWarned bool   // a failure to watch was logged
	toPipe      bool   // a FIFO took the path, with no file open: Run reads it instead

	// Pacing by Gather (see Tailer.Gather): emitted counts the lines
	// emitted, so a gathered read knows whether it found any; paced says
	// writes to the current file no longer wake the follower;
	// lastGather and gatherGap say when the last Gather came and how long
	// after the one before, so that pacing ends when they stop coming.
	emitted    uint64
	paced      bool
	lastGather time.Time
	gatherGap  time.Duration
}

// file is one open file and how far it has been read.
type file struct {
	f    *os.File
	name string        // the name it was opened by, for messages
	reg  *registration // its inotify watch; nil without one

	id   FileID // changes under Tailer.mu
	fp   []byte // the fingerprinted first bytes; nil until its first line is complete
	done int64  // start, as Positions reports it; changes under Tailer.mu
	// end holds the bytes just before done, up to endBytes: the end of
	// the last line delivered. Each read starts with them, to check that
	// the file still has them (see changed). Changes under Tailer.mu.
	end []byte

	start   int64 // where the line being read starts: just after the last line delivered
	scanned int64 // the bytes from start up to here hold no "\n"

	rotated  time.Time // when it left the path; zero for the current file
	active   time.Time // when a read last found new bytes in it
	copyOnly bool      // a copytruncate copy: read once to its end, then closed
	broken   bool      // no longer readable as the file it was: close it; changes under Tailer.mu
}

func newFollower(ctx context.Context, t *Tailer, emit func(Line)) *follower {
	return &follower{
		ctx:       ctx,
		t:         t,
		emit:      emit,
		dir:       filepath.Dir(t.path),
		base:      filepath.Base(t.path),
		wake:      make(chan struct{}, 1),
		pathWake:  make(chan struct{}, 1),
		pathDirty: true,
		buf:       make([]byte, readBufBytes),
	}
}

// start checks the directory, sets up change notification and opens the
// file where Config says. Watching starts before anything is opened, so
// that no change after the open goes unnotified.
func (f *follower) start() error {
	fi, err := os.Stat(f.dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", f.dir)
	}
	if n, err := acquireNotifier(); err != nil {
		f.t.log.Warn("cannot watch for changes; looking for them every poll interval instead",
			slog.Duration("interval", pollInterval), slog.String(logKeyError, err.Error()))
	} else {
		f.n = n
	}
	f.watchDir()

	cur, fi, err := f.open(f.t.path)
	if err != nil {
		return err
	}
	if len(f.t.resume) == 0 {
		if cur != nil {
			off := f.t.offset
			if off > fi.Size() {
				f.t.log.Warn("start offset is beyond the end of the file; it was truncated, reading from its start",
					slog.Int64(logKeyOffset, off), slog.Int64(logKeySize, fi.Size()))
				off = 0
			}
			f.place(cur, off)
		}
	} else {
		f.resume(cur, fi)
	}
	f.t.mu.Lock()
	f.cur = cur
	f.t.f = f
	f.t.following = cur != nil
	f.t.mu.Unlock()
	if cur != nil {
		f.t.log.Debug("following", slog.Int64(logKeyOffset, cur.start))
	} else {
		f.t.log.Debug("waiting for the file to appear")
	}
	return nil
}

// resume places reading at the saved positions: cur, the file at the path
// (nil if none), and any rotated file they name that is still in the
// directory.
func (f *follower) resume(cur *file, curFI fs.FileInfo) {
	found, placed := false, false
	for _, p := range f.t.resume {
		if p.File.IsZero() {
			continue
		}
		if cur != nil && p.holds(cur.f, curFI) {
			if !placed {
				f.place(cur, p.Offset)
				placed = true
			}
			found = true
			continue
		}
		// The file at the path may have the saved inode and yet not be
		// the saved file: it was truncated in place (copytruncate), or
		// the saved file was deleted (rotated and compressed) and its
		// inode given to the new one. Either way the lines after the
		// saved offset are not in it, and it is read from its start.
		reused := cur != nil && p.File.sameInode(curFI)
		if !reused {
			if o := f.findRenamed(p, cur); o != nil {
				found = true
				f.t.log.Info("the log was rotated since the saved position; reading the rotated file on from it",
					slog.String(logKeyFile, o.name), slog.Int64(logKeyOffset, p.Offset))
				f.addOld(o)
				continue
			}
		}
		if cp := f.findCopy(p, cur); cp != nil {
			found = true
			f.addOld(cp)
			continue
		}
		if reused {
			found = true
			f.t.log.Warn("the file at the path has the saved inode but not the content read from it: it was truncated or replaced since the saved position, and no copy of it is in the directory; lines written to it after the saved position are lost",
				slog.Int64(logKeyOffset, p.Offset), slog.Uint64("inode", p.File.Inode))
			continue
		}
		f.t.log.Warn("a file this log was being read from is gone; lines written to it after the saved position are lost",
			slog.Int64(logKeyOffset, p.Offset), slog.Uint64("inode", p.File.Inode))
	}
	if cur == nil || placed {
		return
	}
	if found {
		f.t.log.Info("the file at the path is new since the saved position; reading it from its start")
		return
	}
	end, err := endOfLines(cur.f, curFI.Size())
	if err != nil {
		f.fail(err)
	}
	f.t.log.Warn("the saved position is not in this file or any rotated file; following from the end of the file",
		slog.Int64(logKeyOffset, end))
	f.place(cur, end)
}

// findRenamed looks in the directory for the file p was taken from,
// renamed (access.log.1), by inode and content, to be read on from
// p.Offset; nil if it is not there. cur is the file at the path.
func (f *follower) findRenamed(p Position, cur *file) *file {
	c, err := findSibling(f.dir, f.openIDs(cur), func(li fs.FileInfo) bool {
		_, ino, ok := statID(li)
		return ok && ino == p.File.Inode && li.Size() >= p.Offset
	}, p.holds)
	if err != nil {
		f.fail(fmt.Errorf("look for rotated files: %w", err))
	}
	return f.adopt(c, p.Offset)
}

// endOfLines returns the offset just after the last "\n" among the first
// size bytes of f.
func endOfLines(f *os.File, size int64) (int64, error) {
	nls, _, err := lastNewlines(f, size, 1)
	if err != nil || len(nls) == 0 {
		return 0, err
	}
	return nls[0] + 1, nil
}

// run reads, then waits for a notified change or the poll, until ctx is
// done or a FIFO takes the path.
func (f *follower) run() {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var gathers []chan struct{}
	for {
		before := f.emitted
		f.scan()
		if gathers != nil {
			f.pace(f.emitted > before)
			for _, g := range gathers {
				close(g)
			}
			gathers = nil
		}
		if f.toPipe {
			return
		}
		select {
		case <-f.ctx.Done():
			return
		case <-f.wake:
		case <-f.pathWake:
			f.pathDirty = true
		case <-f.t.gatherWake:
			gathers = f.t.takeGathers()
			now := time.Now()
			if !f.lastGather.IsZero() {
				f.gatherGap = min(now.Sub(f.lastGather), maxGatherGap)
			}
			f.lastGather = now
		case <-tick.C:
			// The poll backs up the notifications: whatever they missed
			// (a lost watch, an overflowed queue) is found here.
			f.pathDirty = true
			f.watchDir()
			if f.paced && time.Since(f.lastGather) > 2*max(pollInterval, f.gatherGap) {
				f.pace(false) // the gathering stopped: be woken by writes again
			}
		}
	}
}

// maxGatherGap bounds how long a paced follower waits for a late Gather
// (twice the gap between the last two) before it asks to be woken by
// writes again.
const maxGatherGap = 10 * time.Second

// pace stops writes to the current file from waking the follower while
// gathered reads keep finding lines (busy), and restores them when one
// finds none. Restoring is followed by one more read: a line written
// between the last read and the restored notification is found by it.
func (f *follower) pace(busy bool) {
	if busy == f.paced || f.n == nil {
		return
	}
	c := f.cur
	if c == nil || c.reg == nil {
		f.paced = false
		return
	}
	if err := c.reg.modify(c.f, !busy); err != nil {
		f.watchFailed(err)
		return
	}
	f.paced = busy
	if !busy {
		poke(f.wake)
	}
}

// scan delivers everything the files hold now.
func (f *follower) scan() {
	for f.ctx.Err() == nil && f.step() {
	}
	f.closeIdle()
}

// step looks at the path if it may have changed, reads one chunk of the
// current file, drains the rotated files, then delivers the chunk's lines,
// and reports whether to go on: only after a full chunk, since a shorter
// one ended at the end of the file, and what is written after it wakes the
// follower again. The chunk is delivered after the rotated files are
// drained, and read before: a line the writer wrote to the old file before
// it wrote this chunk's lines to the new file is then delivered first.
func (f *follower) step() bool {
	if f.pathDirty || f.cur == nil || f.dirReg.lost() {
		// Without a directory watch, nothing says when the path changes:
		// look every time, as before notifications.
		f.pathDirty = false
		f.checkPath()
	}
	c := f.cur
	if c == nil {
		f.drainOld()
		return false
	}
	data, from, err := f.read(c, f.buf)
	if err != nil {
		f.drainOld()
		f.fail(err)
		return false
	}
	if f.changed(c, data, from) {
		f.truncated(c)
		return true
	}
	f.drainOld()
	return f.consume(c, data, from) && len(data) == len(f.buf)
}

// checkPath notices when the path no longer names the current file, and
// opens the file that took its place.
func (f *follower) checkPath() {
	fi, err := os.Stat(f.t.path)
	if err != nil {
		if f.cur != nil {
			if errors.Is(err, fs.ErrNotExist) {
				f.t.log.Info("the file is gone from the path; reading the rest of it while its writer may still write, and waiting for a new one",
					slog.Int64(logKeyOffset, f.cur.scanned))
			}
			f.retire()
		}
		f.cannotOpen(err)
		return
	}
	if f.cur != nil && f.cur.id.sameInode(fi) {
		return
	}
	if isFIFO(fi) && f.cur == nil && len(f.old) == 0 {
		f.toPipe = true
		return
	}
	for i, o := range f.old {
		if !o.copyOnly && !o.broken && o.id.sameInode(fi) {
			// A file being drained is back at the path (moved away and
			// back): it is the current file again, read on from where it
			// was, not from its start.
			if f.paced {
				f.pace(false) // the file leaving the path must wake the follower
			}
			f.t.mu.Lock()
			f.old = append(f.old[:i:i], f.old[i+1:]...)
			if f.cur != nil {
				f.cur.rotated = time.Now()
				f.old = append(f.old, f.cur)
			}
			o.rotated = time.Time{}
			f.cur = o
			f.t.following = true
			f.t.mu.Unlock()
			return
		}
	}
	nf, _, err := f.open(f.t.path)
	if err != nil || nf == nil {
		if f.cur != nil {
			f.retire()
		}
		f.cannotOpen(err)
		return
	}
	if f.cur != nil && nf.id.Dev == f.cur.id.Dev && nf.id.Inode == f.cur.id.Inode {
		f.closeFile(nf) // renamed away and back between the stat and the open
		return
	}
	if !f.reopened(nf) {
		if f.cur != nil {
			f.t.log.Info("the file was replaced at the path; reading the rest of the old one, then the new one from its start",
				slog.Int64(logKeyOffset, f.cur.scanned))
		} else {
			f.t.log.Info("the file appeared at the path; following it from its start")
		}
	}
	if f.cur != nil {
		f.retire()
	}
	f.t.mu.Lock()
	f.cur = nf
	f.t.following = true
	f.t.problem = ""
	f.t.mu.Unlock()
}

// cannotOpen records why there is no file at the path to follow: err from
// a stat or an open, nil or "not exist" when there is simply none. Other
// errors (permission denied) are logged and kept for Tailer.Problem.
func (f *follower) cannotOpen(err error) {
	problem := ""
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.fail(err)
		problem = err.Error()
	}
	f.t.mu.Lock()
	f.t.problem = problem
	f.t.mu.Unlock()
}

// reopened places a file that appeared at the path: at its start, unless
// it is a file that was read and closed before (moved away for longer than
// RotateWait, and back), which is read on from where it was left, and
// reports whether it was.
func (f *follower) reopened(c *file) bool {
	if len(f.closed) == 0 {
		return false
	}
	fi, err := c.f.Stat()
	if err != nil {
		return false
	}
	for i, p := range f.closed {
		if p.File.FingerprintLen == 0 || !p.holds(c.f, fi) {
			continue
		}
		f.t.log.Info("a file read before is back at the path; reading it on from where it was left",
			slog.Int64(logKeyOffset, p.Offset))
		f.place(c, p.Offset)
		f.closed = append(f.closed[:i:i], f.closed[i+1:]...)
		return true
	}
	return false
}

// retire moves the current file to the rotated ones: it is no longer at
// the path, but its writer may still be writing to it.
func (f *follower) retire() {
	if f.paced {
		// Writes to the rotated file must wake the follower again, and
		// the next file at the path starts with them on.
		f.pace(false)
	}
	f.t.mu.Lock()
	f.cur.rotated = time.Now()
	f.old = append(f.old, f.cur)
	f.cur = nil
	f.t.following = false
	f.t.mu.Unlock()
	if len(f.old) > maxRotated {
		o := f.old[0]
		f.t.log.Warn("too many rotated files are still being read; reading the oldest to its end and closing it",
			slog.String(logKeyFile, o.name), slog.Int("limit", maxRotated))
		f.drain(o)
		f.closeOld(o)
	}
}

// addOld adds a file to drain after the ones already draining.
func (f *follower) addOld(o *file) {
	f.t.mu.Lock()
	f.old = append(f.old, o)
	f.t.mu.Unlock()
}

// drainOld reads the rotated files to their ends, oldest first.
func (f *follower) drainOld() {
	for _, o := range f.old {
		f.drain(o)
	}
}

// drain reads a rotated file to its end.
func (f *follower) drain(o *file) {
	if f.oldBuf == nil {
		f.oldBuf = make([]byte, readBufBytes)
	}
	for !o.broken && f.ctx.Err() == nil {
		data, from, err := f.read(o, f.oldBuf)
		if err != nil {
			f.t.log.Warn("cannot read a rotated file; lines written to it after this are lost",
				slog.String(logKeyFile, o.name), slog.String(logKeyError, err.Error()))
			f.markBroken(o)
			return
		}
		if f.changed(o, data, from) {
			f.t.log.Warn("a rotated file was truncated; no longer reading it",
				slog.String(logKeyFile, o.name), slog.Int64(logKeyOffset, o.start))
			f.markBroken(o)
			return
		}
		if !f.consume(o, data, from) {
			return
		}
	}
}

// markBroken gives up on a rotated file: it is closed at the end of the
// scan and no longer in Positions.
func (f *follower) markBroken(o *file) {
	f.t.mu.Lock()
	o.broken = true
	f.t.mu.Unlock()
}

// closeIdle closes the rotated files that are done: a copytruncate copy
// once read, a renamed or deleted file once it has not grown for
// RotateWait, and any that cannot be read.
func (f *follower) closeIdle() {
	if f.ctx.Err() != nil {
		return
	}
	now := time.Now()
	for i := 0; i < len(f.old); {
		o := f.old[i]
		last := o.rotated
		if o.active.After(last) {
			last = o.active
		}
		if o.broken || o.copyOnly || now.Sub(last) >= f.t.rotateWait {
			f.drain(o)
			f.closeOld(o)
			continue
		}
		i++
	}
}

// closeOld delivers what a rotated file holds after its last "\n" (it will
// not grow any more, and those bytes are written data) and closes it.
func (f *follower) closeOld(o *file) {
	if !o.broken && o.scanned > o.start && f.ctx.Err() == nil {
		length := o.scanned - o.start
		kept := f.lineStart(o, length)
		text, cut := lineText(kept, length, f.t.maxLine)
		var end []byte
		if int64(len(kept)) == length {
			end = kept[max(0, len(kept)-endBytes):]
		}
		o.start = o.scanned
		f.emit(Line{Text: text, Offset: o.start, File: o.id, Time: time.Now(), Truncated: cut})
		f.emitted++
		f.delivered(o, end)
	}
	f.t.mu.Lock()
	for i, x := range f.old {
		if x == o {
			f.old = append(f.old[:i:i], f.old[i+1:]...)
			break
		}
	}
	f.t.mu.Unlock()
	f.closeFile(o)
	if !o.broken && !o.copyOnly {
		if len(f.closed) == maxRotated {
			f.closed = f.closed[1:]
		}
		f.closed = append(f.closed, positionAt(o.id, o.done, o.end))
	}
	f.t.log.Debug("closed a rotated file", slog.String(logKeyFile, o.name), slog.Int64(logKeyOffset, o.start))
}

// read reads the next chunk of c into buf: from the start of the line
// being read, or from where scanning stopped if that line is already long.
// A read from the start of the line begins a little earlier, with the end
// of the last line delivered (c.end), which changed checks.
func (f *follower) read(c *file, buf []byte) (data []byte, from int64, err error) {
	from = c.scanned
	if c.scanned-c.start <= rescanBytes {
		from = c.start - int64(len(c.end))
	}
	n, err := readOnce(c.f, buf, from)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s at %d: %w", c.name, from, err)
	}
	return buf[:n], from, nil
}

// changed reports whether c is no longer the file that was read so far:
// it is shorter than what was read of it, it no longer has the end of the
// last line delivered just before where reading goes on, or it no longer
// starts with the first line it had. Any of these means it was truncated
// in place, and maybe written again past the old offset, however long
// ago. Checking after the read, before delivering what it read, means no
// line of the new content is taken for one of the old. It also
// fingerprints a file whose first line has just completed.
func (f *follower) changed(c *file, data []byte, from int64) bool {
	if from+int64(len(data)) < c.scanned {
		return true
	}
	if len(c.end) > 0 {
		at := c.start - int64(len(c.end))
		var got []byte
		if at >= from {
			got = data[at-from : c.start-from]
		} else {
			// A long line is read on from where scanning stopped: the
			// bytes before it are read by themselves.
			if f.endBuf == nil {
				f.endBuf = make([]byte, endBytes)
			}
			n, _ := c.f.ReadAt(f.endBuf[:len(c.end)], at)
			got = f.endBuf[:n]
		}
		if !bytes.Equal(got, c.end) {
			return true
		}
	}
	if c.fp != nil {
		head := f.head(c, data, from, len(c.fp))
		return !bytes.Equal(head, c.fp)
	}
	if fp := fingerprintOf(f.head(c, data, from, fingerprintBytes)); fp != nil {
		f.t.mu.Lock()
		c.fp = bytes.Clone(fp)
		c.id.Fingerprint, c.id.FingerprintLen = hashOf(fp), len(fp)
		f.t.mu.Unlock()
	}
	return false
}

// head returns the first n bytes of c, or fewer if it is shorter: from
// data when that is where they are, else read.
func (f *follower) head(c *file, data []byte, from int64, n int) []byte {
	if from == 0 && len(data) >= n {
		return data[:n]
	}
	if f.headBuf == nil {
		f.headBuf = make([]byte, fingerprintBytes)
	}
	k, _ := c.f.ReadAt(f.headBuf[:n], 0)
	return f.headBuf[:k]
}

// truncated starts the current file again from its start. If it was a
// copytruncate, the copy holds what was written before the truncation and
// not yet read: it is drained first.
func (f *follower) truncated(c *file) {
	f.t.log.Info("the file was truncated; reading it from its start", slog.Int64(logKeyOffset, c.scanned))
	if c.fp != nil {
		if cp := f.findCopy(positionAt(c.id, c.start, c.end), c); cp != nil {
			f.addOld(cp)
		}
	}
	f.t.mu.Lock()
	c.start, c.scanned, c.done = 0, 0, 0
	c.end = c.end[:0]
	c.fp = nil
	c.id.Fingerprint, c.id.FingerprintLen = 0, 0
	f.t.mu.Unlock()
}

// findCopy looks for a copy of the file p was taken from, made by
// copytruncate: another file in the directory that starts with the same
// first line, holds at least p.Offset bytes and has the same end of the
// last line read. The copy is read from p.Offset to its end and closed.
// cur is the truncated file.
func (f *follower) findCopy(p Position, cur *file) *file {
	if p.File.FingerprintLen == 0 {
		return nil
	}
	c, err := findSibling(f.dir, f.openIDs(cur), func(li fs.FileInfo) bool {
		return li.Size() >= p.Offset && li.Size() >= int64(p.File.FingerprintLen)
	}, p.content)
	if err != nil {
		f.fail(fmt.Errorf("look for the copy of a truncated file: %w", err))
	}
	o := f.adopt(c, p.Offset)
	if o == nil {
		return nil
	}
	f.t.log.Info("found the copy of the truncated file; reading what it holds after the last line delivered",
		slog.String(logKeyFile, o.name), slog.Int64(logKeyOffset, p.Offset))
	o.copyOnly = true
	return o
}

// openIDs lists the files that are open (cur and the rotated ones), which
// a search for another file must skip.
func (f *follower) openIDs(cur *file) []FileID {
	var ids []FileID
	if cur != nil {
		ids = append(ids, cur.id)
	}
	for _, o := range f.old {
		ids = append(ids, o.id)
	}
	return ids
}

// consume delivers the lines of data, the bytes of c from offset from, and
// reports whether it got anywhere: a line delivered or new bytes scanned.
func (f *follower) consume(c *file, data []byte, from int64) bool {
	end := from + int64(len(data))
	progress := end > c.scanned
	if progress {
		c.active = time.Now()
		f.lastErr = ""
	}
	now := time.Now()
	// The line being read starts at c.start; data may begin before it,
	// with the end of the line before (see read).
	for p := int(max(c.start-from, 0)); f.ctx.Err() == nil; {
		i := bytes.IndexByte(data[p:], '\n')
		if i < 0 {
			c.scanned = end
			break
		}
		nl := from + int64(p+i)
		length := nl - c.start
		var kept []byte
		if c.start >= from {
			kept = data[c.start-from : nl-from]
		} else {
			kept = f.lineStart(c, length)
		}
		text, cut := lineText(kept, length, f.t.maxLine)
		p += i + 1
		c.start, c.scanned = nl+1, nl+1
		f.emit(Line{Text: text, Offset: c.start, File: c.id, Time: now, Truncated: cut})
		f.emitted++
		f.delivered(c, data[max(p-endBytes, 0):p])
		progress = true
	}
	return progress
}

// lineStart reads again the start of c's line, which began before the
// current read: as much of its length bytes as cutting it needs.
func (f *follower) lineStart(c *file, length int64) []byte {
	k := min(length, int64(f.t.maxLine+utf8.UTFMax))
	if int64(cap(f.lineBuf)) < k {
		f.lineBuf = make([]byte, k)
	}
	n, _ := c.f.ReadAt(f.lineBuf[:k], c.start)
	return f.lineBuf[:n]
}

// delivered publishes c's position once emit has returned, with end, the
// bytes just before it (nil if unknown).
func (f *follower) delivered(c *file, end []byte) {
	f.t.mu.Lock()
	c.done = c.start
	c.end = append(c.end[:0], end...)
	f.t.mu.Unlock()
}

// place sets where reading c starts: at off, which is taken for the end
// of a line delivered before, whose last bytes are read to be checked
// from then on.
func (f *follower) place(c *file, off int64) {
	k := min(off, endBytes)
	end := make([]byte, k)
	n, err := c.f.ReadAt(end, off-k)
	if int64(n) < k && err != nil {
		n = 0 // not there: the first read finds the file shorter
	}
	f.t.mu.Lock()
	c.start, c.scanned, c.done = off, off, off
	c.end = end[:n]
	f.t.mu.Unlock()
}

// positionsLocked returns the positions of the open files, rotated ones
// first. Tailer.mu must be held.
func (f *follower) positionsLocked() []Position {
	ps := make([]Position, 0, len(f.old)+1)
	for _, o := range f.old {
		if !o.broken {
			ps = append(ps, positionAt(o.id, o.done, o.end))
		}
	}
	if f.cur != nil {
		ps = append(ps, positionAt(f.cur.id, f.cur.done, f.cur.end))
	}
	return ps
}

// open opens the file at path for following from its start; nil if there
// is none. A directory or other non-regular file is an error: reading it
// would block or fail.
func (f *follower) open(path string) (*file, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if fi.IsDir() {
		return nil, nil, fmt.Errorf("%s is a directory", path)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	// Non-blocking, so that a FIFO put at the path since the stat does
	// not hold the open until a writer comes; a regular file reads the
	// same either way.
	osf, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	c, fi, err := f.adoptFile(path, osf)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.closeFile(c)
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	return c, fi, nil
}

// adopt takes over a file found by findSibling, to be read from offset;
// nil if that fails (it is logged).
func (f *follower) adopt(c *candidate, offset int64) *file {
	if c == nil {
		return nil
	}
	o, _, err := f.adoptFile(c.path, c.f)
	if err != nil {
		f.fail(err)
		return nil
	}
	f.place(o, offset)
	o.rotated = time.Now()
	return o
}

// adoptFile identifies the open file osf and watches it; it closes osf on
// error.
func (f *follower) adoptFile(name string, osf *os.File) (*file, fs.FileInfo, error) {
	id, fp, fi, err := identify(osf)
	if err != nil {
		osf.Close()
		return nil, nil, fmt.Errorf("identify %s: %w", name, err)
	}
	c := &file{f: osf, name: name, id: id, fp: fp}
	if f.n != nil {
		if c.reg, err = f.n.watchFile(osf, f.wake); err != nil {
			f.watchFailed(err)
		}
	}
	return c, fi, nil
}

func (f *follower) closeFile(c *file) {
	c.reg.close()
	c.f.Close()
}

// watchDir watches the directory for changes to the path's entry, again
// if the watched directory went away or was replaced.
func (f *follower) watchDir() {
	if f.n == nil {
		return
	}
	fi, err := os.Stat(f.dir)
	if err != nil {
		return // gone; the watch is lost or will be
	}
	if !f.dirReg.lost() && f.dirID.sameInode(fi) {
		return
	}
	f.dirReg.close()
	f.dirReg = nil
	reg, err := f.n.watchDir(f.dir, f.base, f.pathWake)
	if err != nil {
		f.watchFailed(err)
		return
	}
	dev, ino, _ := statID(fi)
	f.dirReg, f.dirID = reg, FileID{Dev: dev, Inode: ino}
	poke(f.pathWake) // whatever changed before the watch is looked at now
}

// watchFailed logs, once per Run, that a change cannot be watched for
// (fs.inotify.max_user_watches reached, no /proc): the poll finds it,
// later.
func (f *follower) watchFailed(err error) {
	if f.watchWarned {
		return
	}
	f.watchWarned = true
	f.t.log.Warn("cannot watch for changes; they are found by polling instead, up to a poll interval late",
		slog.Duration("interval", pollInterval), slog.String(logKeyError, err.Error()))
}

// fail logs an error that Run waits out, once for each distinct error in
// a row: a persistent one (an unreadable file, a missing directory) would
// otherwise log at every poll.
func (f *follower) fail(err error) {
	if err == nil || err.Error() == f.lastErr {
		return
	}
	f.lastErr = err.Error()
	f.t.log.Warn("cannot follow the file for now; retrying", slog.String(logKeyError, err.Error()))
}

// close ends the Run: positions are kept for Positions, files closed.
func (f *follower) close() {
	f.t.mu.Lock()
	if f.t.f == f {
		f.t.positions = f.positionsLocked()
		f.t.f = nil
	}
	f.t.following = false
	f.t.mu.Unlock()
	for _, o := range f.old {
		f.closeFile(o)
	}
	if f.cur != nil {
		f.closeFile(f.cur)
	}
	f.dirReg.close()
	if f.n != nil {
		f.n.release()
	}
}
