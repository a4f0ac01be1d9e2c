package transports

import (
	"net/http"
	"time"
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
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// NewHTTPWriter wraps w; timeout zero means DefaultWriteTimeout.
func NewHTTPWriter(w http.ResponseWriter, timeout time.Duration) *HTTPWriter {
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	return &HTTPWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

// Write writes every part and flushes, within one deadline.
func (hw *HTTPWriter) Write(parts ...[]byte) error {
	// A writer that cannot take deadlines (a test recorder, an embedder's
	// middleware without Unwrap) still streams; it only loses the bound.
	_ = hw.rc.SetWriteDeadline(time.Now().Add(hw.timeout))
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
