package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// hostname is os.Hostname, a variable for tests.
var hostname = os.Hostname

// connect opens a NATS connection that keeps trying: the first connect
// too (RetryOnFailedConnect), so that weblogd starts, and serves its local
// subscribers, while NATS is down. opts come last and win.
func connect(url, name string, log *slog.Logger, opts []nats.Option) (*nats.Conn, error) {
	all := append([]nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		// A short wait between attempts: a NATS restart is back in well
		// under a second, and every record waits for it.
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("NATS disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}, opts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS %s: %w", url, err)
	}
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
	if err.Error() == r.lastErr {
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
