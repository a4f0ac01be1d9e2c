package feed

import (
	"context"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

// watchCredentials is the one reader of the token files while Run runs:
// once every auth.CheckInterval it reloads them if they changed, forgets
// expired browser sessions, and, when tokens or sessions changed, ends
// the streams opened with credentials that are no longer good. No request
// ever waits on a token file: requests only read the tokens in force.
//
// A request checked against the old tokens may subscribe just after a
// sweep; the sweep is therefore done again on the next check too.
func (s *Server) watchCredentials(ctx context.Context) {
	if s.tokens == nil && s.admin == nil && s.ingestTokens == nil {
		return
	}
	t := time.NewTicker(auth.CheckInterval)
	defer t.Stop()
	again := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.admin != nil {
			s.admin.Reload()
		}
		if s.ingestTokens != nil {
			s.ingestTokens.Reload()
		}
		if s.tokens == nil {
			continue
		}
		changed := s.tokens.Reload()
		if s.sessions.Sweep(time.Now()) {
			changed = true
		}
		if changed || again {
			s.revokeStreams()
		}
		again = changed
	}
}

// revokeStreams ends, with broadcast.ReasonRevoked, every stream whose
// token is no longer in the token file as it was (removed, or its name or
// filter changed) or whose browser session has ended (logged out,
// expired). Each says its transport's goodbye.
func (s *Server) revokeStreams() {
	now := time.Now()
	ended := 0
	for _, si := range s.hub.List() {
		p, _ := si.Meta.(*transports.Peer)
		if p == nil || p.Grant == nil {
			continue
		}
		var why string
		switch g := p.Grant; {
		case !s.tokens.Has(g):
			why = "its token was removed or changed"
		case g.Session != "" && !s.sessions.Live(auth.SessionID(g.Session), now):
			why = "its session ended"
		default:
			continue
		}
		if s.hub.End(si.ID, broadcast.ReasonRevoked) {
			ended++
			s.log.Debug("stream ended: its credentials were revoked", "transport", p.Transport, "remote", p.Addr, "token", p.Token, "why", why)
		}
	}
	if ended > 0 {
		s.log.Info("ended the streams of revoked credentials", "streams", ended)
	}
}
