package feed

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/transports"
)

// placeIngest is where an /ingest request is refused for its token.
const placeIngest = "ingest"

// DefaultIngestSource is the source of the lines of an /ingest request
// that names none.
const DefaultIngestSource = "ingest"

// maxIngestSource bounds ?source=: a host and a program name fit, well
// within what any stream source may be named (maxSourceName).
const maxIngestSource = 128

// DefaultIngestRequestsPerToken bounds the /ingest requests open at once
// with one token: a few shippers on one machine, or one shipper's
// parallel batches (Vector sends several at once), while a runaway
// script cannot hold every connection.
const DefaultIngestRequestsPerToken = 8

// DefaultIngestIdleTimeout is how long an /ingest request may send
// nothing before it is ended: long enough for `tail -F | curl -T -` on a
// quiet log, short enough that a client gone without closing its
// connection does not hold a request slot for ever.
const DefaultIngestIdleTimeout = time.Hour

// ingestReadBuffer is how much of a body is read at once.
const ingestReadBuffer = 64 << 10

// errTooManyIngest refuses a request past the token's limit (429).
var errTooManyIngest = errors.New("too many /ingest requests open with this token")

// loadIngestTokens reads the ingest token file: the token file's syntax,
// but a filter would mean nothing on lines coming in, so one is refused.
func loadIngestTokens(path string, log *slog.Logger) (*auth.File, error) {
	f, err := auth.Load(path, log)
	if err != nil {
		return nil, fmt.Errorf("ingest tokens: %w", err)
	}
	if f.HasScopes() {
		return nil, fmt.Errorf("ingest tokens: %s: a filter on an ingest token means nothing: it sends lines, it reads none", path)
	}
	return f, nil
}

// checkSource checks a ?source= name: printable ASCII letters, digits
// and ._-:@/ (a host and a program, as syslog's HOSTNAME/TAG), at most
// maxIngestSource bytes, and no "." or ".." part, no empty part: it is a
// name in the records and the metrics, never a path, and must not look
// like one that climbs.
func checkSource(name string) error {
	switch {
	case name == "":
		return errors.New("source is empty")
	case len(name) > maxIngestSource:
		return fmt.Errorf("source is longer than %d bytes", maxIngestSource)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._-:@/", c) >= 0) {
			return fmt.Errorf("source %q: only letters, digits and . _ - : @ / are allowed", name)
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("source %q: a part between slashes is empty, \".\" or \"..\"", name)
		}
	}
	return nil
}

// ingestAnswer is the body of every answer once the body is being read.
type ingestAnswer struct {
	Lines int64  `json:"lines"`
	Error string `json:"error,omitempty"`
}

func (s *Server) writeIngestAnswer(w http.ResponseWriter, code int, a ingestAnswer) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	b := strconv.AppendInt([]byte(`{"lines":`), a.Lines, 10)
	if a.Error != "" {
		b = append(b, `,"error":`...)
		b = strconv.AppendQuote(b, a.Error) // the reasons are ASCII: a JSON string too
	}
	w.Write(append(b, "}\n"...))
}

// errIngestStopped is why a request was not read to its end at shutdown.
const errIngestStopped = "the server is shutting down: the rest of the body was not read"

// serveIngest answers POST (and PUT, what curl -T sends) /ingest: the
// body's lines, read as they come, each taken into the ring (the
// source's take) before the next is read and before the answer, which
// says how many.
func (s *Server) serveIngest(w http.ResponseWriter, r *http.Request) {
	// The refusals get the write deadline of any short answer; the
	// answer after a body, its own.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	tok, _, why := s.credentials(r, s.ingestTokens, false)
	if tok == nil {
		s.refuseAuth(w, r, placeIngest, why)
		return
	}
	source := DefaultIngestSource
	if q := r.URL.Query(); q.Has("source") {
		source = q.Get("source")
	}
	if err := checkSource(source); err != nil {
		transports.BadRequest(w, err)
		return
	}
	isJSON, err := ingestJSON(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc != "" && enc != "identity" && enc != "gzip" {
		http.Error(w, fmt.Sprintf("unsupported media type: Content-Encoding %q (want gzip or none)", enc), http.StatusUnsupportedMediaType)
		return
	}
	// The source is made (or found) before the body is read: past
	// --max-sources names, it is the overflow source.
	st, ok := s.streams.get(kindIngest, source)
	if !ok {
		s.writeIngestAnswer(w, http.StatusServiceUnavailable, ingestAnswer{Error: errIngestStopped})
		return
	}
	release, err := s.ingestLimit.Acquire(tok.Grant.Key)
	if err != nil {
		s.log.Debug("ingest refused", "token", tok.Name(), "remote", r.RemoteAddr, "err", err)
		w.Header().Set("Retry-After", "1")
		http.Error(w, errTooManyIngest.Error(), http.StatusTooManyRequests)
		return
	}
	defer release()

	var body io.Reader = &idleReader{r: r.Body, rc: rc, idle: s.cfg.IngestIdleTimeout, stopping: s.stopping}
	// Shutdown ends the reading: the lines in are kept and counted, the
	// client is told the rest was not read.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.stopping:
			_ = rc.SetReadDeadline(time.Now())
			cancel()
		case <-ctx.Done():
		}
	}()
	if enc == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			code, reason := ingestFailure(err, ctx, s.stopping)
			if code == http.StatusOK || errors.Is(err, gzip.ErrHeader) {
				code, reason = http.StatusBadRequest, "the body is not gzip"
			}
			s.writeIngestAnswer(w, code, ingestAnswer{Error: reason})
			return
		}
		defer zr.Close()
		body = zr
	}

	br := bufio.NewReaderSize(body, ingestReadBuffer)
	var lines bodyLines = &bodyText{br: br, max: s.cfg.MaxLineBytes}
	if isJSON {
		lines = &bodyJSON{br: br, max: s.cfg.MaxLineBytes}
	}
	bucket := s.ingestRate.bucket(tok.Grant.Key)
	var n int64
	var allow int
	for {
		line, cut, err := lines.next()
		if err == nil && allow == 0 && bucket != nil {
			allow, err = bucket.take(ctx)
		}
		if err != nil {
			code, reason := ingestFailure(err, ctx, s.stopping)
			if code == http.StatusOK {
				s.writeIngestAnswer(w, code, ingestAnswer{Lines: n})
				return
			}
			s.log.Debug("ingest ended early", "source", source, "token", tok.Name(), "remote", r.RemoteAddr, "lines", n, "err", err)
			if code == http.StatusRequestEntityTooLarge || code == http.StatusBadRequest || code == http.StatusRequestTimeout {
				w.Header().Set("Connection", "close") // the rest of the body is not read
			}
			s.writeIngestAnswer(w, code, ingestAnswer{Lines: n, Error: reason})
			return
		}
		allow--
		if !st.takeAs(source, string(line), cut) {
			s.writeIngestAnswer(w, http.StatusServiceUnavailable, ingestAnswer{Lines: n, Error: errIngestStopped})
			return
		}
		n++
	}
}

// ingestFailure turns the error that ended a body into the answer: 200
// at its end, 400 for a body that is not what it says, 408 for one that
// stalled, 503 when the server is shutting down.
func ingestFailure(err error, ctx context.Context, stopping <-chan struct{}) (int, string) {
	select {
	case <-stopping:
		if !errors.Is(err, io.EOF) {
			return http.StatusServiceUnavailable, errIngestStopped
		}
	default:
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return http.StatusOK, ""
	case errors.Is(err, errBadJSON):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout, "the body sent nothing for too long"
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, "the body ended in the middle of a JSON value"
	case ctx.Err() != nil:
		return http.StatusServiceUnavailable, "the request ended"
	}
	return http.StatusBadRequest, "reading the body: " + err.Error()
}

// ingestJSON says whether a Content-Type is JSON (objects, one per line
// or in arrays); text otherwise. msgpack, Fluent Bit's default, is
// refused with what to set instead.
func ingestJSON(ct string) (bool, error) {
	if ct == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, nil // unreadable: taken as text, as with none
	}
	switch mt {
	case "application/json", "application/x-ndjson", "application/ndjson", "application/jsonlines", "application/x-jsonlines", "application/json-seq", "application/stream+json":
		return true, nil
	case "application/msgpack", "application/x-msgpack":
		return false, errors.New("unsupported media type: msgpack; send JSON lines (Fluent Bit: format json_lines) or text")
	}
	return false, nil
}

// idleReader moves the connection's read deadline on before each read,
// so that a body that sends nothing for idle fails with
// os.ErrDeadlineExceeded; a slow but moving body goes on. Zero idle means
// no deadline.
type idleReader struct {
	r        io.Reader
	rc       *http.ResponseController
	idle     time.Duration
	set      time.Time // when the deadline was last moved
	stopping <-chan struct{}
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if ir.idle > 0 {
		// Moving it once a second is enough, and costs nothing per read.
		if now := time.Now(); now.Sub(ir.set) > time.Second {
			ir.set = now
			_ = ir.rc.SetReadDeadline(now.Add(ir.idle))
			select {
			case <-ir.stopping:
				// Shutdown set the deadline to now just before: keep it.
				_ = ir.rc.SetReadDeadline(now)
			default:
			}
		}
	}
	return ir.r.Read(p)
}
