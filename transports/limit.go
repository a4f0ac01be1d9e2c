package transports

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

// Errors of Limiter.Acquire; their text is the one-line reason a refused
// client reads.
var (
	ErrTooManySubscribers = errors.New("too many subscribers")
	ErrTooManyFromAddress = errors.New("too many subscribers from this address")
	// ErrShuttingDown is what a client that arrives during shutdown reads.
	ErrShuttingDown = errors.New("shutting down")
)

// retryAfter is the Retry-After, in seconds, of a refused stream: long
// enough that clients retrying in a loop do not hammer a full server, short
// enough that a dashboard gets in soon after a slot frees (or after a
// restart).
const retryAfter = 10

// Limiter bounds the subscribers of every transport together: how many
// there are in all, and how many come from one client address. The address
// is the TCP peer (http.Request.RemoteAddr, net.Conn.RemoteAddr), never a
// header such as X-Forwarded-For that a client could write: behind a
// reverse proxy every client has the proxy's address. It is safe for
// concurrent use; a nil Limiter allows everything.
type Limiter struct {
	max, perAddr int

	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

// NewLimiter allows at most max subscribers in all and perAddr from one
// address; zero or less means no limit.
func NewLimiter(max, perAddr int) *Limiter {
	return &Limiter{max: max, perAddr: perAddr, byAddr: map[string]int{}}
}

// Acquire takes a slot for a subscriber whose peer is remoteAddr
// ("host:port"), or fails with ErrTooManySubscribers or
// ErrTooManyFromAddress. release gives the slot back; it may be called more
// than once.
func (l *Limiter) Acquire(remoteAddr string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	key := addrKey(remoteAddr)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max > 0 && l.total >= l.max:
		return nil, ErrTooManySubscribers
	case l.perAddr > 0 && l.byAddr[key] >= l.perAddr:
		return nil, ErrTooManyFromAddress
	}
	l.total++
	l.byAddr[key]++
	released := false
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if released {
			return
		}
		released = true
		l.total--
		if l.byAddr[key]--; l.byAddr[key] == 0 {
			delete(l.byAddr, key) // the map holds only addresses connected now
		}
	}, nil
}

// Subscribers returns how many slots are taken.
func (l *Limiter) Subscribers() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// addrKey is the client address of a peer "host:port": the IP without
// port and zone, an IPv4-mapped IPv6 address as IPv4; whatever does not
// parse (a Unix socket, a test's fake address) counts as itself.
func addrKey(remoteAddr string) string {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// RefuseReasonOf maps an Acquire or Subscribe error to its metric label.
func RefuseReasonOf(err error) RefuseReason {
	switch {
	case errors.Is(err, ErrTooManySubscribers):
		return RefuseMaxSubscribers
	case errors.Is(err, ErrTooManyFromAddress):
		return RefuseMaxPerAddress
	case errors.Is(err, ErrTooManyForToken):
		return RefuseMaxPerToken
	}
	return RefuseShutdown
}

// Refuse answers an HTTP stream that cannot start: 503 with a Retry-After
// and err as the one-line reason. It counts the refusal in c (nil: not
// counted).
func Refuse(w http.ResponseWriter, err error, c *Counters) {
	if c != nil {
		c.Refused(RefuseReasonOf(err))
	}
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	http.Error(w, err.Error(), http.StatusServiceUnavailable)
}
