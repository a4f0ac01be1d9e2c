package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// hostname is os.Hostname, a variable for tests.
var hostname = os.Hostname

// defaultNode is the node name when none is given: the host name.
func defaultNode(node string) (string, error) {
	if node != "" {
		return node, nil
	}
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("get the host name for the node name: %w", err)
	}
	return h, nil
}

// link is one NATS connection as the status page and /readyz see it:
// whether it is up, and the last error it met, so that a node that cannot
// connect (a wrong password, say) says why.
type link struct {
	url     string // without credentials
	nc      atomic.Pointer[nats.Conn]
	mu      sync.Mutex
	lastErr string
}

func (l *link) connected() bool {
	nc := l.nc.Load()
	return nc != nil && nc.IsConnected()
}

func (l *link) setErr(err error) {
	l.mu.Lock()
	l.lastErr = err.Error()
	l.mu.Unlock()
}

func (l *link) err() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}

// notConnected is the one-line reason of a link that is down.
func (l *link) notConnected() string {
	why := "nats: not connected to " + l.url
	if e := l.err(); e != "" {
		why += ": " + e
	}
	return why
}

// connect opens a NATS connection that keeps trying: the first connect
// too (RetryOnFailedConnect), so that weblogd starts, and serves its local
// subscribers, while NATS is down; and after a refused authentication
// too (IgnoreAuthErrorAbort), so that credentials fixed on the server
// side are picked up without a restart. Each failed attempt is recorded
// in l; a new kind of failure is logged at Warn, its repeats at Debug.
// opts come after these and win; last come fixed, options the caller's
// correctness depends on.
func connect(l *link, url, name string, log *slog.Logger, opts, fixed []nats.Option) (*nats.Conn, error) {
	var mu sync.Mutex
	var logged string
	fail := func(msg string, err error) {
		if err == nil {
			return
		}
		l.setErr(err)
		mu.Lock()
		level := slog.LevelWarn
		if err.Error() == logged {
			level = slog.LevelDebug
		}
		logged = err.Error()
		mu.Unlock()
		log.Log(context.Background(), level, msg, "url", l.url, "err", err)
	}
	all := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.IgnoreAuthErrorAbort(),
		// A short wait between attempts: a NATS restart is back in well
		// under a second, and every record waits for it.
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { fail("NATS disconnected", err) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { fail("cannot connect to NATS; retrying", err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { fail("NATS error", err) }),
		nats.ConnectHandler(func(nc *nats.Conn) {
			mu.Lock()
			logged = ""
			mu.Unlock()
			log.Info("NATS connected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			mu.Lock()
			logged = ""
			mu.Unlock()
			log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}, opts...)
	nc, err := nats.Connect(url, append(all, fixed...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", l.url, err)
	}
	l.nc.Store(nc)
	return nc, nil
}

// retrier paces retries while NATS fails: the delay doubles from
// retryMin to retryMax, and the same error is logged once at Warn, then
// at Debug until things work again (litestream's monitor).
type retrier struct {
	log     *slog.Logger
	what    string
	delay   time.Duration
	lastErr string
	failing bool
}

func (r *retrier) fail(ctx context.Context, err error) {
	level := slog.LevelWarn
	if err.Error() == r.lastErr || errors.Is(err, errNotConnected) {
		// Said already; or the connection's own handlers say why.
		level = slog.LevelDebug
	}
	r.lastErr, r.failing = err.Error(), true
	r.delay = min(max(2*r.delay, retryMin), retryMax)
	r.log.Log(ctx, level, r.what, "err", err, "retry_in", r.delay)
}

func (r *retrier) ok() {
	if r.failing {
		r.log.Info("NATS works again")
	}
	r.delay, r.lastErr, r.failing = 0, "", false
}

// wait sleeps the current delay; false when ctx ended it.
func (r *retrier) wait(ctx context.Context) bool {
	t := time.NewTimer(r.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// validName reports whether name can name a JetStream consumer or
// stream.
func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, ">*. /\\\t\r\n\f")
}
