package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weblogd/weblogd/transports"
)

// MinTokenLength is the shortest token a file may hold: 16 characters of
// `openssl rand -hex 32` are 64 bits, out of reach of guessing over the
// network; shorter ones are refused rather than silently weak.
const MinTokenLength = 16

// CheckInterval is how often the owner of a File calls Reload: a stat a
// second costs nothing, and a revoked token stops working within a second.
const CheckInterval = time.Second

// Token is one line of a token file, without the secret: its SHA-256.
type Token struct {
	// Grant is what the token allows: its name, the key its subscribers
	// are counted under, and its fixed filter (nil: every record).
	Grant *transports.Grant
	hash  [sha256.Size]byte
	line  int
}

// Name returns the token's name: name= from its line, or "line N".
func (t *Token) Name() string { return t.Grant.Name }

// set is one reading of a token file.
type set struct {
	tokens []*Token
	byKey  map[string]*Token // by Grant.Key
}

// filterKeys are the keys a token line may limit it by; name= names it.
var filterKeys = transports.FilterParams

// Parse reads a token file's text (name is used in errors). The syntax, one
// token per line:
//
//	# a comment; blank lines are skipped too
//	TOKEN
//	TOKEN name=ops
//	TOKEN name=shop source=shop.access.log path=/api/
//	TOKEN status=5xx,4xx host=203.0.113.0/24 q=needs%20escaping
//	TOKEN name=edge-a node=web-1,web-2
//
// The token is the line's first word (visible ASCII, at least
// MinTokenLength characters); then key=value words, URL-escaped where a
// value needs a space or a '%'. name= names the token in logs, listings and
// metrics (default "line N"); the other keys are the streams' filter
// parameters, with the same values, and together form the token's fixed
// filter: it is ANDed with whatever a request asks for. A key repeated is
// an OR, as in a query string. Errors give the line, never the token.
func Parse(name string, text string) ([]*Token, error) {
	var out []*Token
	seen := map[[sha256.Size]byte]int{}
	names := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, a...))
		}
		words := strings.Fields(line)
		secret := words[0]
		if len(secret) < MinTokenLength {
			return nil, at("the token is shorter than %d characters (make one with: openssl rand -hex 32)", MinTokenLength)
		}
		for i := 0; i < len(secret); i++ {
			if c := secret[i]; c < 0x21 || c > 0x7e {
				return nil, at("the token has a character that is not visible ASCII")
			}
		}
		h := sha256.Sum256([]byte(secret))
		if was, dup := seen[h]; dup {
			return nil, at("the same token is on line %d already", was)
		}
		seen[h] = n
		tokName := "line " + strconv.Itoa(n)
		params := url.Values{}
		for _, w := range words[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok {
				return nil, at("want key=value after the token, got %q", w)
			}
			uv, err := url.PathUnescape(v)
			if err != nil {
				return nil, at("value of %s: bad %%-escape", k)
			}
			switch {
			case k == "name":
				if uv == "" {
					return nil, at("name is empty")
				}
				tokName = uv
			case slices.Contains(filterKeys, k):
				params[k] = append(params[k], uv)
			default:
				return nil, at("unknown key %q: want name or a filter (%s)", k, strings.Join(filterKeys, ", "))
			}
		}
		if was, dup := names[tokName]; dup {
			return nil, at("the name %q is on line %d already", tokName, was)
		}
		names[tokName] = n
		f, err := transports.ParseFilter(func(k string) []string { return params[k] })
		if err != nil {
			return nil, at("%v", err)
		}
		out = append(out, &Token{
			// The key counts subscribers per token; the hash never leaves
			// the process.
			Grant: &transports.Grant{Name: tokName, Key: string(h[:]), Scope: f},
			hash:  h,
			line:  n,
		})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// find returns the token whose hash is h, comparing h with every token in
// constant time: how long it takes depends on how many tokens there are,
// never on which matched or how much of one did.
func (s *set) find(h [sha256.Size]byte) *Token {
	var found *Token
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			found = t
		}
	}
	return found
}

// MaxFileBytes bounds a token file: ten thousand tokens with names and
// filters fit in it many times over, and a file that is larger (a log
// written over it by mistake) is refused rather than read whole.
const MaxFileBytes = 1 << 20

// File is a token file, read again when it changes. Reading is never done
// on a request's path: Load reads it once, and then only Reload, which the
// owner calls from a goroutine of its own (at most once a second, see
// CheckInterval), looks at the file. A file that fails to read or parse
// is logged once and the previous tokens stay in force; an empty file
// refuses everyone. Check and the other readers take the tokens in force
// without a lock; Reload calls are serialised.
type File struct {
	path string
	log  *slog.Logger

	set atomic.Pointer[set]

	mu   sync.Mutex // held by Reload
	seen stamp
}

// Load reads the token file at path; it fails if the file is not a
// regular file, cannot be read, has an error, or holds no token. log
// receives reloads (Info) and failed reloads (Error); nil discards.
func Load(path string, log *slog.Logger) (*File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &File{path: path, log: log}
	f.seen = stampFile(path) // before reading: a change in between is seen later, never missed
	s, err := readSet(path, nil)
	if err != nil {
		return nil, err
	}
	if len(s.tokens) == 0 {
		return nil, fmt.Errorf("token file %s holds no token", path)
	}
	f.set.Store(s)
	return f, nil
}

// ReadFile reads a file of secrets without ever waiting on it: it is
// opened non-blocking (opening a FIFO would wait for a writer) and must be
// a regular file of at most MaxFileBytes before a byte is read (reading a
// FIFO or a device can wait for ever).
func ReadFile(path string) ([]byte, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileBytes)
	}
	b, err := io.ReadAll(io.LimitReader(fd, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileBytes)
	}
	return b, nil
}

// readSet reads the token file. Tokens whose line is unchanged from old
// (same token, name and filter) are kept as they were, Grant and all: the
// streams opened with them go on (Has), while a token removed or changed
// ends its streams.
func readSet(path string, old *set) (*set, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the token file: %w", err)
	}
	toks, err := Parse(path, string(b))
	if err != nil {
		return nil, err
	}
	s := &set{tokens: toks, byKey: make(map[string]*Token, len(toks))}
	for i, t := range toks {
		if old != nil {
			if o := old.byKey[t.Grant.Key]; o != nil && o.Grant.Name == t.Grant.Name && o.Grant.Scope.String() == t.Grant.Scope.String() {
				toks[i] = o
			}
		}
		s.byKey[toks[i].Grant.Key] = toks[i]
	}
	return s, nil
}

// current returns the tokens in force.
func (f *File) current() *set { return f.set.Load() }

// Reload reads the file again if it changed since it was last looked at,
// and reports whether the tokens in force changed. It never waits on the
// file (ReadFile): a FIFO or device put in its place is refused, logged
// once, and the previous tokens stay in force.
func (f *File) Reload() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := stampFile(f.path)
	if st.equal(f.seen) {
		return false
	}
	f.seen = st
	s, err := readSet(f.path, f.current())
	if err != nil {
		f.log.Error("cannot reload the token file; the previous tokens stay in force", "path", f.path, "err", err)
		return false
	}
	f.set.Store(s)
	if len(s.tokens) == 0 {
		f.log.Warn("the token file holds no token: every request is refused", "path", f.path)
	} else {
		f.log.Info("reloaded the token file", "path", f.path, "tokens", len(s.tokens))
	}
	return true
}

// Check returns the token that secret is, or false.
func (f *File) Check(secret string) (*Token, bool) {
	t := f.current().find(sha256.Sum256([]byte(secret)))
	return t, t != nil
}

// Has reports whether g, a grant handed out by this file (or a copy of
// one), is still in force: its token is in the file, with the same name
// and filter.
func (f *File) Has(g *transports.Grant) bool {
	t := f.current().byKey[g.Key]
	return t != nil && t.Grant.Name == g.Name && t.Grant.Scope == g.Scope
}

// Tokens returns how many tokens are in force.
func (f *File) Tokens() int { return len(f.current().tokens) }

// stamp is what the file looked like: a change of identity (a renamed-in
// or symlink-swapped file), modification time or size means new content.
type stamp struct {
	info os.FileInfo
	err  string
}

func stampFile(name string) stamp {
	fi, err := os.Stat(name)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{info: fi}
}

func (s stamp) equal(o stamp) bool {
	if s.err != o.err || (s.info == nil) != (o.info == nil) {
		return false
	}
	return s.info == nil || os.SameFile(s.info, o.info) && s.info.ModTime().Equal(o.info.ModTime()) && s.info.Size() == o.info.Size()
}

// HasScopes reports whether a token in force is limited to a filter.
func (f *File) HasScopes() bool {
	for _, t := range f.current().tokens {
		if t.Grant.Scope != nil {
			return true
		}
	}
	return false
}
