package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nxadm/tail"
	"github.com/nxadm/tail/watch"
)

// DefaultMaxLineBytes is the line length used when Config.MaxLineBytes is
// zero. Access-log lines are a few hundred bytes; 64 KiB keeps even huge
// query strings and cookies whole while bounding what one line can cost a
// subscriber.
const DefaultMaxLineBytes = 64 << 10

const (
	// stopWarnAfter is how long Run waits for the library to stop before it
	// logs a warning; stopping normally takes well under a millisecond, and
	// a longer wait points at the library's known tracker deadlock.
	stopWarnAfter = 5 * time.Second

	// releaseTimeout bounds how long Run waits, after stopping the library,
	// for the library's change-watching goroutine to drop its registration
	// for the path. That normally takes microseconds; the bound matters only
	// when the library leaked the registration (a failed inotify add), where
	// waiting longer would not help.
	releaseTimeout = time.Second

	// releaseTimeoutDead replaces releaseTimeout when the library died on
	// its own. It usually died of a failed inotify add, which leaks the
	// registration with no goroutine left to drop it, so the full wait
	// would only delay the error; a goroutine that is still there drops it
	// well within this.
	releaseTimeoutDead = 100 * time.Millisecond

	// releasePoll is how often Run looks at the registration while it waits:
	// short enough not to add visible latency to Run's return.
	releasePoll = 2 * time.Millisecond

	// stallCheckInterval is how often Run, while no line arrives, checks
	// whether the library has missed a change (see follow.check). A check
	// costs an open, an fstat and a read of at most fingerprintBytes, plus a
	// short read when the file has grown; on an idle log that is nothing.
	// It bounds how long a missed line waits: about stallStrikes intervals.
	stallCheckInterval = 500 * time.Millisecond

	// stallStrikes is how many checks in a row must find a complete unread
	// line before Run restarts the library: a single check can fall between
	// a write and the library's reading of it.
	stallStrikes = 2

	// maxStallStrikes caps the back-off when restarts do not help (the file
	// is unreadable in a way the library hides): about 30 s between
	// restarts at stallCheckInterval.
	maxStallStrikes = 64

	// fingerprintBytes is how much of a file's start, with its device and
	// inode, tells it apart from another. Filesystems reuse a deleted file's
	// inode at once, often for its replacement; 1 KiB holds the first line of
	// an access log, whose client and timestamp differ from file to file.
	fingerprintBytes = 1 << 10

	// stallScanBytes bounds how far past the last delivered line a check
	// looks for a "\n". A missed line longer than this is not rescued, but
	// a partial line, however long, never costs a check more.
	stallScanBytes = 1 << 20
)

// Attribute keys used in log records.
const (
	logKeyPath   = "path"
	logKeyOffset = "offset"
	logKeySize   = "size"
	logKeyError  = "error"
	logKeyAfter  = "after"
)

// ErrPathInUse is returned by Run when another Run in this process is
// following the same path.
var ErrPathInUse = errors.New("path is already followed in this process")

// Line is one complete line of the followed file.
type Line struct {
	Text      string    // without the trailing "\n" (and without a trailing "\r"), cut to MaxLineBytes
	Offset    int64     // byte offset just after this line's "\n" in the file it was read from
	Time      time.Time // when it was read
	Truncated bool      // the line was longer than MaxLineBytes and was cut
}

// Config says which file to follow and how. Its zero value, with Path set,
// follows the file from its start.
type Config struct {
	// Path is the file to follow. Required. It need not exist yet, but its
	// directory must.
	Path string

	// Offset is where to start reading if the file exists when Run starts:
	// normally a Line.Offset saved earlier or the end returned by Last, so
	// that it is at the start of a line. A file that does not exist yet is
	// read from its start when it appears (tail -F). An Offset beyond the
	// end of the file means the file was truncated since; reading then
	// starts at 0. Zero means the start of the file; negative is an error.
	Offset int64

	// MaxLineBytes is the longest Line.Text delivered. Longer lines are cut
	// to at most this many bytes (backing off to the start of a UTF-8
	// sequence that straddles the cut) and delivered with Truncated set.
	// Zero means DefaultMaxLineBytes; negative is an error.
	MaxLineBytes int

	// Logger receives the tailer's and the library's messages; the library's
	// arrive at Debug level. Nil means discard.
	Logger *slog.Logger
}

// Tailer follows one file. Create it with New, then call Run once.
type Tailer struct {
	path    string // as given; the library opens and keys its watches by it
	abs     string // absolute and clean; the key for ErrPathInUse
	offset  int64
	maxLine int
	log     *slog.Logger

	ran atomic.Bool // Run has been called

	mu      sync.Mutex
	phase   phase
	failure error // why Run failed, when phase is phaseFailed
}

type phase int

const (
	phaseIdle phase = iota
	phaseRunning
	phaseStopped
	phaseFailed
)

// Values returned by State, besides "failed: <reason>".
const (
	StateIdle      = "idle"      // Run has not been called
	StateWaiting   = "waiting"   // Run is active and the file does not exist
	StateFollowing = "following" // Run is active and the file exists
	StateStopped   = "stopped"   // Run returned nil
)

// New checks c and returns a Tailer that starts nothing until Run.
func New(c Config) (*Tailer, error) {
	if c.Path == "" {
		return nil, errors.New("create tailer: path is empty")
	}
	if c.Offset < 0 {
		return nil, fmt.Errorf("create tailer for %s: offset %d is negative", c.Path, c.Offset)
	}
	if c.MaxLineBytes < 0 {
		return nil, fmt.Errorf("create tailer for %s: max line bytes %d is negative", c.Path, c.MaxLineBytes)
	}
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		return nil, fmt.Errorf("create tailer for %s: %w", c.Path, err)
	}
	t := &Tailer{
		path:    c.Path,
		abs:     abs,
		offset:  c.Offset,
		maxLine: c.MaxLineBytes,
		log:     c.Logger,
	}
	if t.maxLine == 0 {
		t.maxLine = DefaultMaxLineBytes
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With(slog.String(logKeyPath, c.Path))
	return t, nil
}

// State describes the tailer for health pages and logs: StateIdle,
// StateWaiting, StateFollowing, StateStopped, or "failed: <reason>" once Run
// has returned an error. While Run is active it costs one stat of the path.
func (t *Tailer) State() string {
	t.mu.Lock()
	p, failure := t.phase, t.failure
	t.mu.Unlock()
	switch p {
	case phaseIdle:
		return StateIdle
	case phaseStopped:
		return StateStopped
	case phaseFailed:
		return "failed: " + failure.Error()
	}
	// The library does not say whether it has the file open, but it opens a
	// file within moments of its appearing, so existence is the honest
	// cheap answer.
	if _, err := os.Stat(t.path); err != nil {
		return StateWaiting
	}
	return StateFollowing
}

// Following reports whether Run is active and the file exists: what a
// readiness probe wants to know.
func (t *Tailer) Following() bool {
	return t.State() == StateFollowing
}

// Run follows the file until ctx is done, calling emit for every complete
// line, in order, from Run's goroutine. It returns nil after ctx is
// cancelled, or an error if following fails for good (the file cannot be
// opened or read, its directory is missing, the library died). Where the
// library misses a change or reads a file twice, Run restarts it or drops
// the repeats (see the package documentation). It stops the library and
// waits for it before returning. It may be called once per Tailer.
func (t *Tailer) Run(ctx context.Context, emit func(Line)) (err error) {
	if emit == nil {
		return fmt.Errorf("follow %s: emit is nil", t.path)
	}
	if !t.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("follow %s: Run called twice", t.path)
	}
	if err := claim(t.abs); err != nil {
		t.finish(err)
		return fmt.Errorf("follow %s: %w", t.path, err)
	}
	defer release(t.abs)
	defer func() { t.finish(err) }()

	if ctx.Err() != nil {
		return nil
	}
	f, err := t.open()
	if err != nil {
		return err
	}

	// Run looks into the library's tracker when it stops; make sure the
	// tracker exists, and that this goroutine has seen it created.
	trackerOnce.Do(startTracker)

	t.mu.Lock()
	t.phase = phaseRunning
	t.mu.Unlock()

	if f.ident != nil {
		t.log.Debug("following", slog.Int64(logKeyOffset, f.offset))
		err = f.startTail(&tail.SeekInfo{Offset: f.offset, Whence: io.SeekStart})
	} else {
		// The library applies Location at its first open, even when that
		// is a file that appears later; a new file must be read from 0.
		t.log.Debug("following from the start of the file once it appears")
		err = f.startTail(nil)
	}
	if err != nil {
		return err
	}
	died := false
	defer func() { t.stop(f.tl, died) }()

	tick := time.NewTicker(stallCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l, ok := <-f.tl.Lines:
			if !ok {
				// The library closes Lines only when its goroutine ends,
				// which with Follow and ReOpen means it died.
				died = true
				werr := f.tl.Wait()
				if ctx.Err() != nil && werr == nil {
					return nil
				}
				if werr == nil {
					werr = errors.New("library stopped without an error")
				}
				return fmt.Errorf("follow %s: %w", t.path, werr)
			}
			if l.Err != nil {
				// Set only by the rate limiter, which is off; if it ever
				// appears, the line it carries is not file content.
				return fmt.Errorf("follow %s: %w", t.path, l.Err)
			}
			if !f.received(l) {
				continue
			}
			text, cut := cutLine(strings.TrimSuffix(l.Text, "\r"), t.maxLine)
			if cut {
				// Let the long line's memory go; only the kept part lives on.
				text = strings.Clone(text)
			}
			emit(Line{
				Text: text,
				// Computed by the library's goroutine right after reading
				// the line: the offset just after its "\n".
				Offset:    l.SeekInfo.Offset,
				Time:      l.Time,
				Truncated: cut,
			})
		case <-tick.C:
			if err := f.check(); err != nil {
				return err
			}
		}
	}
}

// open decides where the library's first open starts reading: at
// Config.Offset if the file exists now, else at the start of whatever file
// appears (follow.ident is then nil). It also turns an unreadable file into
// an error that wraps the cause, which the library's own message would not.
func (t *Tailer) open() (*follow, error) {
	f := &follow{t: t, needed: stallStrikes}
	file, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", t.path, err)
	}
	defer file.Close()
	id, err := identify(file, t.offset)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", t.path, err)
	}
	if id.fi.IsDir() {
		return nil, fmt.Errorf("follow %s: is a directory", t.path)
	}
	f.ident, f.offset = &id, t.offset
	if id.fi.Mode().IsRegular() && f.offset > id.fi.Size() {
		t.log.Warn("start offset is beyond the end of the file; it was truncated, reading from its start",
			slog.Int64(logKeyOffset, f.offset), slog.Int64(logKeySize, id.fi.Size()))
		f.offset = 0
	}
	return f, nil
}

// fileID tells one file from another: the device and inode, and the bytes
// the file started with, which appending does not change.
type fileID struct {
	fi     fs.FileInfo
	prefix []byte // up to fingerprintBytes from the start, no further than the lines delivered
}

// identify reads the identity of an open file. The fingerprint stops at
// settled, the end of what has been delivered from the file: bytes beyond
// it may still change (a preallocated file written in place, NULs on NFS).
func identify(file *os.File, settled int64) (fileID, error) {
	fi, err := file.Stat()
	if err != nil {
		return fileID{}, err
	}
	id := fileID{fi: fi}
	if fi.Mode().IsRegular() {
		id.prefix = make([]byte, min(fi.Size(), settled, fingerprintBytes))
		n, err := file.ReadAt(id.prefix, 0)
		id.prefix = id.prefix[:n] // the file may have shrunk since the fstat
		if err != nil && !errors.Is(err, io.EOF) {
			return fileID{}, err
		}
	}
	return id, nil
}

// identifyPath identifies the file at path; nil if that fails.
func identifyPath(path string, settled int64) *fileID {
	file, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer file.Close()
	id, err := identify(file, settled)
	if err != nil {
		return nil
	}
	return &id
}

// sameAs reports whether two identities were taken from one file: the same
// inode, and the prefix taken when the file was smaller is the start of
// the other.
func (id *fileID) sameAs(o *fileID) bool {
	a, b := id.prefix, o.prefix
	if len(a) > len(b) {
		a, b = b, a
	}
	return os.SameFile(id.fi, o.fi) && bytes.HasPrefix(b, a)
}

// is reports whether the open file, whose FileInfo is fi, is the file id
// was taken from.
func (id *fileID) is(file *os.File, fi fs.FileInfo) bool {
	if !os.SameFile(id.fi, fi) || fi.Size() < int64(len(id.prefix)) {
		return false
	}
	b := make([]byte, len(id.prefix))
	if _, err := file.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return bytes.Equal(b, id.prefix)
}

// follow is the state of one Run: the library's tail, and how far delivery
// has got in which file, for the stall check.
type follow struct {
	t  *Tailer
	tl *tail.Tail

	ident  *fileID // the file the last line came from (or Run started on); nil when unknown
	offset int64   // just after the last line delivered from ident, or where reading started in it

	skipTo int64 // lines up to this offset in ident are being read again; drop them

	progress bool // a line arrived since the last check
	strikes  int  // checks in a row that found a complete line the library has not delivered
	needed   int  // strikes that make check restart the library; doubles while restarts do not help
}

// startTail starts the library at loc (nil: at the start of the file it
// first opens).
func (f *follow) startTail(loc *tail.SeekInfo) error {
	tl, err := tail.TailFile(f.t.path, tail.Config{
		Location:      loc,
		ReOpen:        true, // tail -F: follow the name across delete and recreate
		MustExist:     false,
		Poll:          false, // inotify; polling misses more rotations and truncations
		Follow:        true,
		CompleteLines: true, // a line written in two write() calls is one line
		// No MaxLineSize: it splits by bytes, cuts UTF-8, and gives every
		// piece the same offset. No RateLimiter: it drops data by design.
		Logger: slog.NewLogLogger(f.t.log.Handler(), slog.LevelDebug),
	})
	if err != nil {
		return fmt.Errorf("start following %s: %w", f.t.path, err)
	}
	f.tl = tl
	return nil
}

// received notes a line received from the library and reports whether to
// deliver it. The library numbers lines from 1 after every open, so Num 1
// is the first line of a file it has just opened. When that file is the
// one already delivered up to f.offset, the library is reading it again
// (after a spurious "deleted" or "truncated" event: a stale event for an
// old inode is delivered by file name), and the lines up to f.offset have
// been delivered once already.
func (f *follow) received(l *tail.Line) bool {
	f.progress = true
	if l.Num == 1 {
		id := identifyPath(f.t.path, l.SeekInfo.Offset)
		if f.ident != nil && id != nil && f.ident.sameAs(id) && l.SeekInfo.Offset <= f.offset {
			f.t.log.Info("the tail library is reading the file again; skipping the lines already delivered",
				slog.Int64(logKeyOffset, f.offset))
			f.skipTo = f.offset
		} else {
			f.skipTo = 0
		}
		f.ident = id
	}
	if l.SeekInfo.Offset <= f.skipTo {
		return false
	}
	f.skipTo = 0
	f.offset = l.SeekInfo.Offset
	return true
}

// check restarts the library when it has missed a change. The library
// starts watching a file only after it has read it to the end, and does not
// look again: a line written in between (just after Run starts, or after a
// reopen) waits for the next write, forever on a quiet log. And when a file
// is replaced by renaming a larger one over it, the library takes the
// change for an append and stays on the old file. In both cases the file
// at the path holds a complete line beyond what was delivered while no line
// arrives. Run then restarts the library exactly there: after the last
// delivered line if the file is the one it came from and has not shrunk,
// else at the start of the file, none of which has been delivered.
func (f *follow) check() error {
	if f.progress {
		f.progress, f.strikes, f.needed = false, 0, stallStrikes
		return nil
	}
	from, id, stalled := f.stalled()
	if !stalled {
		f.strikes = 0
		return nil
	}
	if f.strikes++; f.strikes < f.needed {
		return nil
	}
	select {
	case <-f.tl.Dying():
		return nil // dead, not stalled: Run reports it when Lines closes
	default:
	}
	f.t.log.Warn("the tail library missed a change to the file; restarting it",
		slog.Int64(logKeyOffset, from))
	f.t.stop(f.tl, false)
	f.ident, f.offset, f.skipTo = id, from, 0
	f.strikes, f.needed = 0, min(2*f.needed, maxStallStrikes)
	return f.startTail(&tail.SeekInfo{Offset: from, Whence: io.SeekStart})
}

// stalled reports whether the file at the path holds a complete line that
// has not been delivered, where that line starts, and the file.
func (f *follow) stalled() (from int64, id *fileID, ok bool) {
	file, err := os.Open(f.t.path)
	if err != nil {
		return 0, nil, false // missing: the library is waiting for it, rightly
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, nil, false
	}
	if f.ident != nil && f.ident.is(file, fi) && fi.Size() >= f.offset {
		from, id = f.offset, f.ident
	} else if now, err := identify(file, 0); err == nil {
		id = &now
	} else {
		return 0, nil, false
	}
	end := min(fi.Size(), from+stallScanBytes)
	buf := make([]byte, min(end-from, lastChunkBytes))
	for pos := from; pos < end; {
		b := buf[:min(end-pos, int64(len(buf)))]
		n, err := file.ReadAt(b, pos)
		if bytes.IndexByte(b[:n], '\n') >= 0 {
			return from, id, true
		}
		if err != nil {
			return 0, nil, false
		}
		pos += int64(n)
	}
	return 0, nil, false
}

// stop stops the library, waits for its goroutine, then waits until its
// change-watching goroutine, which Stop does not wait for, has dropped the
// path from the process-wide tracker. Without that last wait a new Run on
// the same path could register before the old goroutine unregisters, and
// the old goroutine would then close the new Run's event channel: the new
// Run would never see a change.
func (t *Tailer) stop(tl *tail.Tail, died bool) {
	warn := time.AfterFunc(stopWarnAfter, func() {
		t.log.Warn("the tail library is slow to stop", slog.Duration(logKeyAfter, stopWarnAfter))
	})
	if err := tl.Stop(); err != nil {
		t.log.Debug("stopped the tail library", slog.String(logKeyError, err.Error()))
	}
	warn.Stop()

	name := filepath.Clean(t.path) // the library's key
	if watch.Events(name) == nil {
		return
	}
	timeout := releaseTimeout
	if died {
		timeout = releaseTimeoutDead
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(releasePoll)
	defer tick.Stop()
	for watch.Events(name) != nil {
		select {
		case <-tick.C:
		case <-deadline.C:
			// Expected after a death by a failed inotify add, odd otherwise.
			level := slog.LevelWarn
			if died {
				level = slog.LevelDebug
			}
			t.log.Log(context.Background(), level, "the tail library still watches the file after stopping",
				slog.Duration(logKeyAfter, timeout))
			return
		}
	}
}

// finish records how Run ended for State.
func (t *Tailer) finish(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.phase, t.failure = phaseFailed, err
		return
	}
	t.phase = phaseStopped
}

var (
	followingMu sync.Mutex
	following   = map[string]bool{} // absolute paths with an active Run
)

func claim(abs string) error {
	followingMu.Lock()
	defer followingMu.Unlock()
	if following[abs] {
		return ErrPathInUse
	}
	following[abs] = true
	return nil
}

func release(abs string) {
	followingMu.Lock()
	defer followingMu.Unlock()
	delete(following, abs)
}

// trackerOnce guards startTracker.
var trackerOnce sync.Once

// startTracker makes the library create its process-wide inotify tracker.
// watch.Events, which stop uses, reads the tracker without starting it and
// panics if it does not exist yet; reading it is also only race-free after
// the library's own sync.Once has run with a happens-before edge to the
// reader, which this call provides. Watching for a file's creation and
// unwatching it is the library's cheapest balanced pair of calls; it leaves
// the tracker's counts as they were. The name only needs an existing
// directory, and no file is created.
func startTracker() {
	name := filepath.Join(os.TempDir(), "weblogd-tailer-start")
	if err := watch.WatchCreate(name); err != nil {
		// The tracker exists anyway; a failed watch leaves no count to undo.
		return
	}
	watch.RemoveWatchCreate(name)
}

// cutLine cuts s to at most limit bytes, backing off to the start of a
// UTF-8 sequence that straddles the cut, and reports whether it cut. s may be
// just a prefix of a longer line, as long as it holds limit+utf8.UTFMax-1
// bytes, the most a straddling sequence can reach.
func cutLine(s string, limit int) (string, bool) {
	if len(s) <= limit {
		return s, false
	}
	c := limit
	if !utf8.RuneStart(s[c]) {
		// s[c] continues a sequence; find where it starts, at most
		// UTFMax-1 bytes back, and cut there if that sequence is valid and
		// runs past the cut. Invalid bytes are kept raw.
		for j := c - 1; j >= 0 && j > c-utf8.UTFMax; j-- {
			if utf8.RuneStart(s[j]) {
				if _, size := utf8.DecodeRuneInString(s[j:]); size > 1 && j+size > c {
					c = j
				}
				break
			}
		}
	}
	return s[:c], true
}
