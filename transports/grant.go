package transports

import (
	"context"
	"errors"
	"sync"
)

// Grant is what a client's credentials allow it: a fixed filter ANDed
// with whatever it asks for, and the key its subscribers are counted
// under. The HTTP layer in front of the streams (feed's authentication)
// puts it in the request's context; the raw stream gets it from its AUTH
// line. No Grant (nil) means authentication is off: everything, counted
// per address only.
type Grant struct {
	// Name names the credential in logs and listings, never the secret.
	Name string
	// Key counts the credential's subscribers (TokenLimiter); empty means
	// not counted.
	Key string
	// Scope is ANDed with every filter a request asks for; nil passes
	// everything.
	Scope *Filter
	// Session is the browser session the credential came in (an opaque
	// id of the authenticating layer); empty for a bearer token.
	Session string
}

type grantKey struct{}

// WithGrant returns ctx carrying g.
func WithGrant(ctx context.Context, g *Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// GrantOf returns the Grant ctx carries, nil if none.
func GrantOf(ctx context.Context) *Grant {
	g, _ := ctx.Value(grantKey{}).(*Grant)
	return g
}

// Scope returns the grant's fixed filter; nil for a nil grant.
func (g *Grant) scope() *Filter {
	if g == nil {
		return nil
	}
	return g.Scope
}

// name returns the grant's name; empty for a nil grant.
func (g *Grant) name() string {
	if g == nil {
		return ""
	}
	return g.Name
}

// Peer describes one subscriber for listings (the admin API): it is the
// broadcast.SubscribeOptions.Meta of every network subscriber.
type Peer struct {
	Addr      string // the TCP peer, host:port
	Transport string // tcp, hits, events, ws
	Token     string // the credential's name; empty without authentication
	Filter    string // what it asked for, with the token's fixed filter, in query form
	// Grant is the credential it came with, for the authenticating layer
	// to end its streams when it is revoked; nil without authentication.
	Grant *Grant
}

// ErrTooManyForToken is TokenLimiter.Acquire's refusal; its text is the
// one-line reason a refused client reads.
var ErrTooManyForToken = errors.New("too many subscribers with this token")

// TokenLimiter bounds the subscribers of one credential (Grant.Key), on
// every transport together, as Limiter does per address: one leaked or
// shared token cannot take every slot. A nil TokenLimiter, or one with
// no maximum, allows everything. It is safe for concurrent use.
type TokenLimiter struct {
	max int

	mu    sync.Mutex
	byKey map[string]int
}

// NewTokenLimiter allows at most max subscribers per key; zero or less
// means no limit.
func NewTokenLimiter(max int) *TokenLimiter {
	return &TokenLimiter{max: max, byKey: map[string]int{}}
}

// Acquire takes a slot for key, or fails with ErrTooManyForToken. An
// empty key (no authentication) is not counted. release gives the slot
// back; it may be called more than once.
func (l *TokenLimiter) Acquire(key string) (release func(), err error) {
	if l == nil || l.max <= 0 || key == "" {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey[key] >= l.max {
		return nil, ErrTooManyForToken
	}
	l.byKey[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.byKey[key]--; l.byKey[key] == 0 {
				delete(l.byKey, key)
			}
		})
	}, nil
}

// Max returns the limit; 0 for none.
func (l *TokenLimiter) Max() int {
	if l == nil {
		return 0
	}
	return max(l.max, 0)
}
