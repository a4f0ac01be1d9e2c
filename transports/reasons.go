package transports

import (
	"errors"
	"net"
	"os"
	"slices"

	"github.com/weblogd/weblogd/broadcast"
)

// DisconnectReason says why a subscriber's stream ended. The values are the
// reason label of weblogd_disconnects_total.
type DisconnectReason string

const (
	// DisconnectClosed: the client went away (end of stream, reset, its
	// close frame, a cancelled request).
	DisconnectClosed DisconnectReason = "closed"
	// DisconnectShutdown: the server shut down.
	DisconnectShutdown DisconnectReason = "shutdown"
	// DisconnectSlow: the subscriber stayed behind for longer than the
	// slow timeout (broadcast.ReasonSlow).
	DisconnectSlow DisconnectReason = "slow"
	// DisconnectWriteTimeout: a write missed its deadline; the client
	// stopped reading.
	DisconnectWriteTimeout DisconnectReason = "write_timeout"
	// DisconnectPongTimeout: a WebSocket peer stayed silent (no pong, no
	// message) for longer than its pong wait.
	DisconnectPongTimeout DisconnectReason = "pong_timeout"
	// DisconnectProtocol: a WebSocket peer broke the protocol: a message
	// over the read limit, a malformed frame.
	DisconnectProtocol DisconnectReason = "protocol"
	// DisconnectAdmin: an operator disconnected it through the admin API
	// (broadcast.ReasonKicked).
	DisconnectAdmin DisconnectReason = "admin"
	// DisconnectRevoked: the credentials it was opened with were revoked:
	// its token removed from the token file (or changed), its browser
	// session logged out or expired (broadcast.ReasonRevoked).
	DisconnectRevoked DisconnectReason = "revoked"
)

var disconnectReasons = [...]DisconnectReason{DisconnectClosed, DisconnectShutdown, DisconnectSlow,
	DisconnectWriteTimeout, DisconnectPongTimeout, DisconnectProtocol, DisconnectAdmin, DisconnectRevoked}

// DisconnectReasons returns every disconnect reason, for metrics that show
// each at zero from the start.
func DisconnectReasons() []DisconnectReason { return slices.Clone(disconnectReasons[:]) }

// RefuseReason says why a new subscriber was turned away. The values are
// the reason label of weblogd_refused_total.
type RefuseReason string

const (
	// RefuseMaxSubscribers: the server has as many subscribers as it
	// allows in all.
	RefuseMaxSubscribers RefuseReason = "max_subscribers"
	// RefuseMaxPerAddress: the client's address has as many subscribers as
	// one address may have.
	RefuseMaxPerAddress RefuseReason = "max_subscribers_per_ip"
	// RefuseShutdown: the server is shutting down.
	RefuseShutdown RefuseReason = "shutdown"
	// RefuseMaxPerToken: the client's token has as many subscribers as one
	// token may have (TokenLimiter).
	RefuseMaxPerToken RefuseReason = "max_subscribers_per_token"
)

var refuseReasons = [...]RefuseReason{RefuseMaxSubscribers, RefuseMaxPerAddress, RefuseShutdown, RefuseMaxPerToken}

// RefuseReasons returns every refusal reason.
func RefuseReasons() []RefuseReason { return slices.Clone(refuseReasons[:]) }

// DisconnectError is the cause a connection's reader gives when it ends
// the stream (context.WithCancelCause), so that the writer counts the real
// reason: the WebSocket reader knows a silent peer from a closed one.
type DisconnectError struct {
	Reason DisconnectReason
	Err    error
}

func (e *DisconnectError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *DisconnectError) Unwrap() error { return e.Err }

// ReasonOf says why a stream of sub ended with err (nil after a proper
// goodbye). The hub's reason wins when it ended the subscription (slow, or
// shutdown): whatever happened to the connection after that (the peer
// closing it in answer to the goodbye, a write failing) followed from it.
// Then a reason carried by err; then a missed deadline; anything else is
// the client going away.
func ReasonOf(sub *broadcast.Subscription, err error) DisconnectReason {
	switch sub.Reason() {
	case broadcast.ReasonSlow:
		return DisconnectSlow
	case broadcast.ReasonShutdown:
		return DisconnectShutdown
	case broadcast.ReasonKicked:
		return DisconnectAdmin
	case broadcast.ReasonRevoked:
		return DisconnectRevoked
	}
	var de *DisconnectError
	if errors.As(err, &de) {
		return de.Reason
	}
	if IsTimeout(err) {
		return DisconnectWriteTimeout
	}
	return DisconnectClosed
}

// IsTimeout reports whether err is a missed deadline.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TooSlow is the reason given to a client ended with broadcast.ReasonSlow,
// in its transport's goodbye (docs/protocol.md, "End of stream").
const TooSlow = "too slow"

// Revoked is the reason given to a client ended with
// broadcast.ReasonRevoked, in its transport's goodbye.
const Revoked = "revoked"

// EndReason is what a client ended for r is told in its transport's
// goodbye: TooSlow, Revoked, or nothing (a shutdown, an operator).
func EndReason(r broadcast.Reason) string {
	switch r {
	case broadcast.ReasonSlow:
		return TooSlow
	case broadcast.ReasonRevoked:
		return Revoked
	}
	return ""
}
