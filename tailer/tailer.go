package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// DefaultMaxLineBytes is the line length used when Config.MaxLineBytes is
// zero. Access-log lines are a few hundred bytes; 64 KiB keeps even huge
// query strings and cookies whole while bounding what one line can cost a
// subscriber.
const DefaultMaxLineBytes = 64 << 10

// DefaultRotateWait is the rotate wait used when Config.RotateWait is zero.
// After a rename rotation nginx writes to the old file until it gets
// USR1, which logrotate's postrotate sends within moments, and Apache's
// graceful restart lets a busy worker finish its request first; 5 s
// (Fluent Bit's rotate_wait) covers both with room to spare, and the wait
// restarts whenever the old file grows.
const DefaultRotateWait = 5 * time.Second

// Attribute keys used in log records.
const (
	logKeyPath   = "path"
	logKeyOffset = "offset"
	logKeySize   = "size"
	logKeyError  = "error"
	logKeyFile   = "file"
)

// ErrPathInUse is returned by Run when another Run in this process is
// following the same path.
var ErrPathInUse = errors.New("path is already followed in this process")

// Line is one complete line of the followed file.
type Line struct {
	Text      string    // without the trailing "\n" (and without a trailing "\r"), cut to MaxLineBytes
	Offset    int64     // byte offset just after this line's "\n" in File; zero from a FIFO
	File      FileID    // the file it was read from: after a rotation, the old file or the new one; zero from a FIFO
	Time      time.Time // when it was read
	Truncated bool      // the line was longer than MaxLineBytes and was cut
}

// Config says which file to follow and how. Its zero value, with Path set,
// follows the file from its start.
type Config struct {
	// Path is the file to follow. Required. It need not exist yet, but its
	// directory must when Run starts (later it may go and come back).
	Path string

	// Offset is where to start reading if the file exists when Run starts
	// and Resume is empty. A file that does not exist yet is read from its
	// start when it appears (tail -F). An Offset beyond the end of the file
	// means the file was truncated since; reading then starts at 0. Zero
	// means the start of the file; negative is an error.
	Offset int64

	// Resume, when not empty, says where to start instead of Offset: the
	// files this log was being read from and how far, as Tailer.Positions
	// returned them (saved in a checkpoint), or the end that Last returned.
	// Each file is found again by its FileID: at the path, or renamed in
	// the same directory (access.log.1), where it is read on from its
	// offset. A file at the path that is none of them was rotated in while
	// nobody followed it, and is read from its start. If none of them is
	// found at all, Resume belongs to other files: Run logs a warning and
	// starts at the end of the file at the path.
	Resume []Position

	// MaxLineBytes is the longest Line.Text delivered. Longer lines are cut
	// to at most this many bytes (backing off to the start of a UTF-8
	// sequence that straddles the cut) and delivered with Truncated set;
	// the rest of the line is skipped without being held in memory. Zero
	// means DefaultMaxLineBytes; negative is an error.
	MaxLineBytes int

	// RotateWait is how long a file that is no longer at the path (renamed
	// or deleted by a rotation) is still read after it last grew: the
	// writer may not have reopened the path yet. Zero means
	// DefaultRotateWait; negative is an error.
	RotateWait time.Duration

	// Logger receives the tailer's messages. Nil means discard.
	Logger *slog.Logger
}

// Tailer follows one file. Create it with New, then call Run once.
type Tailer struct {
	path       string // as given
	abs        string // absolute and clean; the key for ErrPathInUse
	offset     int64
	resume     []Position
	maxLine    int
	rotateWait time.Duration
	log        *slog.Logger

	ran atomic.Bool // Run has been called

	mu        sync.Mutex
	phase     phase
	failure   error      // why Run failed, when phase is phaseFailed
	following bool       // Run has the file at the path open
	problem   string     // why Run cannot open the file at the path; "" when there is none
	f         *follower  // Run's state while it follows; Positions reads it
	positions []Position // see Positions: before and after Run

	gathers    []chan struct{} // Gather calls waiting for a read
	gatherWake chan struct{}   // capacity 1: gathers is not empty
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
	StateWaiting   = "waiting"   // Run is active and the file does not exist (or cannot be opened)
	StateFollowing = "following" // Run is active and has the file open
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
	for _, p := range c.Resume {
		if p.Offset < 0 {
			return nil, fmt.Errorf("create tailer for %s: resume offset %d is negative", c.Path, p.Offset)
		}
	}
	if c.MaxLineBytes < 0 {
		return nil, fmt.Errorf("create tailer for %s: max line bytes %d is negative", c.Path, c.MaxLineBytes)
	}
	if c.RotateWait < 0 {
		return nil, fmt.Errorf("create tailer for %s: rotate wait %v is negative", c.Path, c.RotateWait)
	}
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		return nil, fmt.Errorf("create tailer for %s: %w", c.Path, err)
	}
	t := &Tailer{
		path:       c.Path,
		abs:        abs,
		offset:     c.Offset,
		resume:     append([]Position(nil), c.Resume...),
		maxLine:    c.MaxLineBytes,
		rotateWait: c.RotateWait,
		log:        c.Logger,
		gatherWake: make(chan struct{}, 1),
	}
	if t.maxLine == 0 {
		t.maxLine = DefaultMaxLineBytes
	}
	if t.rotateWait == 0 {
		t.rotateWait = DefaultRotateWait
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With(slog.String(logKeyPath, c.Path))
	// Until Run has opened anything, the positions to save are the ones to
	// start from: a checkpoint taken now must not lose them.
	t.positions = append([]Position(nil), t.resume...)
	return t, nil
}

// State describes the tailer for health pages and logs: StateIdle,
// StateWaiting, StateFollowing, StateStopped, or "failed: <reason>" once Run
// has returned an error.
func (t *Tailer) State() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.phase {
	case phaseIdle:
		return StateIdle
	case phaseStopped:
		return StateStopped
	case phaseFailed:
		return "failed: " + t.failure.Error()
	}
	if t.following {
		return StateFollowing
	}
	return StateWaiting
}

// Problem says why Run, while it waits, cannot follow the file at the
// path: the error that stops it (permission denied, say). It is empty
// while Run follows the file, and while the path simply does not exist.
// It may be called from any goroutine.
func (t *Tailer) Problem() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.phase != phaseRunning || t.following {
		return ""
	}
	return t.problem
}

// Following reports whether Run is active and has the file open: what a
// readiness probe wants to know.
func (t *Tailer) Following() bool {
	return t.State() == StateFollowing
}

// Positions returns where reading stands in every file the tailer has
// open: just after the last line delivered from each, the file at the path
// last, and before it any rotated file that is still being drained. A line
// counts as delivered once emit has returned for it, so a checkpoint of
// Positions taken after that holds no line that emit has not seen. Before
// Run has opened anything they are Config.Resume; after Run has returned,
// where it stopped. Give them back as Config.Resume to carry on exactly
// there. It may be called from any goroutine.
func (t *Tailer) Positions() []Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		return t.f.positionsLocked()
	}
	return append([]Position(nil), t.positions...)
}

// Current returns where reading stands in the file at the path: just
// after the last line delivered from it. It is false while Run has no file
// at the path open. It may be called from any goroutine.
func (t *Tailer) Current() (Position, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil || t.f.cur == nil {
		return Position{}, false
	}
	c := t.f.cur
	return positionAt(c.id, c.done, c.end), true
}

// Run follows the file until ctx is done, calling emit for every complete
// line, in order, from Run's goroutine. It returns nil after ctx is
// cancelled, or an error if following cannot start: the directory of the
// path is missing, the path is a directory, the file cannot be opened.
// Once started, trouble (the file deleted, unreadable for a while, its
// directory gone and back) is waited out and retried, never returned. It
// may be called once per Tailer.
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
	if fi, err := os.Stat(t.path); err == nil && isFIFO(fi) {
		if err := t.runPipe(ctx, emit); err != nil {
			return fmt.Errorf("follow %s: %w", t.path, err)
		}
		return nil
	}
	f := newFollower(ctx, t, emit)
	if err := f.start(); err != nil {
		f.close()
		return fmt.Errorf("follow %s: %w", t.path, err)
	}
	t.mu.Lock()
	t.phase = phaseRunning
	t.mu.Unlock()
	f.run()
	f.close()
	if f.toPipe && ctx.Err() == nil {
		t.log.Info("a FIFO appeared at the path; reading it as a stream")
		if err := t.runPipe(ctx, emit); err != nil {
			return fmt.Errorf("follow %s: %w", t.path, err)
		}
	}
	return nil
}

// Gather asks Run to read the file now, and returns a channel that is
// closed once a read that started after the call has emitted every
// complete line the file held (or at once when Run is not following).
// A broadcaster calls it just before it flushes, so that on a busy log
// the file is read once per flush rather than once per line written:
// while Gather keeps finding lines, Run stops asking to be woken by every
// write and waits for the next Gather (or, should none come, its poll).
func (t *Tailer) Gather() <-chan struct{} {
	done := make(chan struct{})
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		close(done)
		return done
	}
	t.gathers = append(t.gathers, done)
	poke(t.gatherWake)
	return done
}

// takeGathers returns the pending Gather calls: a read that starts after
// this answers them.
func (t *Tailer) takeGathers() []chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.gathers
	t.gathers = nil
	return g
}

// finish records how Run ended for State.
func (t *Tailer) finish(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, g := range t.gathers {
		close(g)
	}
	t.gathers = nil
	t.following = false
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

// claim makes sure one path has one follower: two would deliver every
// line twice and keep each other's rotated files open.
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

// poke sends on a wake-up channel of capacity 1 without blocking: one
// pending wake-up is as good as many.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
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

// lineText turns the kept start of a line, b, into Line.Text: length is
// the line's whole length without its "\n", of which b holds the first
// min(length, limit+UTFMax) bytes. Only a line held whole can need its
// "\r" removed: a longer one is cut whatever its ending.
func lineText(b []byte, length int64, limit int) (string, bool) {
	if int64(len(b)) == length && len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	b = b[:min(len(b), limit+utf8.UTFMax)]
	return cutLine(string(b), limit)
}
