package transports

import (
	"errors"
	"net/http"
	"time"

	"github.com/weblogd/weblogd/broadcast"
)

// StreamHeaders sets the headers of every streaming response: no caching,
// and no buffering in nginx and other proxies, so that each batch reaches
// the client when it is flushed.
func StreamHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
}

// HTTPWriter writes a streaming response: every write has a deadline and
// is flushed at once. The server has no WriteTimeout (it would cut long
// streams), so this deadline is what frees a stalled client's slot.
type HTTPWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	deadline *Deadline
}

// NewHTTPWriter wraps w; timeout zero means DefaultWriteTimeout. Its
// deadlines are bounded by drain (nil: not); Close it before the handler
// returns.
func NewHTTPWriter(w http.ResponseWriter, timeout time.Duration, drain *Drain) *HTTPWriter {
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	rc := http.NewResponseController(w)
	return &HTTPWriter{w: w, rc: rc, timeout: timeout, deadline: drain.Track(rc.SetWriteDeadline)}
}

// Close releases the writer's deadline from the drain: after the handler
// returns, its connection may serve another request.
func (hw *HTTPWriter) Close() { hw.deadline.Release() }

// Write writes every part and flushes, within one deadline.
func (hw *HTTPWriter) Write(parts ...[]byte) error {
	// A writer that cannot take deadlines (a test recorder, an embedder's
	// middleware without Unwrap) still streams; it only loses the bound.
	_ = hw.deadline.Set(time.Now().Add(hw.timeout))
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		if _, err := hw.w.Write(p); err != nil {
			return err
		}
	}
	return hw.rc.Flush()
}

// BadRequest answers a bad parameter: 400 with a one-line reason, before
// any stream starts.
func BadRequest(w http.ResponseWriter, err error) {
	http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
}

// StreamConfig configures an HTTP stream handler (/hits, /events).
type StreamConfig struct {
	Hub *broadcast.Hub // required
	// WriteTimeout bounds each write; zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Heartbeat is how often the stream gets a keep-alive; zero means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// Counters receive the transport's numbers; nil keeps them private.
	Counters *Counters
	// Limiter bounds the subscribers, shared by every transport; nil
	// allows any number.
	Limiter *Limiter
	// Drain bounds the write deadlines at shutdown, shared by every
	// transport; nil leaves them to WriteTimeout.
	Drain *Drain
}

// ServeStream runs one HTTP stream once its request has been parsed: the
// streaming headers, nothing more for HEAD, a slot from the limiter and
// the subscription (503 with Retry-After and the reason otherwise),
// prelude, then Pump until the stream ends.
func ServeStream(w http.ResponseWriter, r *http.Request, c StreamConfig, req Request, contentType string, prelude []byte, newSink func(*HTTPWriter) Sink) {
	counters := c.Counters
	if counters == nil {
		counters = new(Counters)
	}
	if r.Method == http.MethodHead {
		StreamHeaders(w, contentType)
		return
	}
	release, err := c.Limiter.Acquire(r.RemoteAddr)
	if err != nil {
		Refuse(w, err, counters)
		return
	}
	defer release()
	opts := req.Start
	opts.DropCounter = &counters.Dropped
	sub, err := c.Hub.Subscribe(r.Context(), opts)
	if err != nil {
		if errors.Is(err, broadcast.ErrClosed) {
			Refuse(w, ErrShuttingDown, counters)
		}
		return // else the client went while it waited: nobody to answer
	}
	defer sub.Close()
	StreamHeaders(w, contentType)
	hw := NewHTTPWriter(w, c.WriteTimeout, c.Drain)
	defer hw.Close()
	w.WriteHeader(http.StatusOK)
	if err := hw.Write(prelude); err != nil { // with no prelude, this sends the headers now
		counters.Disconnected(ReasonOf(sub, err))
		return
	}
	Pump(r.Context(), sub, newSink(hw), c.Heartbeat, counters)
}
