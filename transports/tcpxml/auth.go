package tcpxml

import (
	"bytes"
	"strings"
	"time"

	"github.com/weblogd/weblogd/transports"
)

// setAuth takes the authentication settings of c.
func (s *Server) setAuth(c Config) {
	s.auth, s.tokens = c.Authenticate, c.Tokens
	s.authTimeout = c.AuthTimeout
	if s.authTimeout <= 0 {
		s.authTimeout = DefaultAuthTimeout
	}
	s.onAuthFail = c.OnAuthFailure
	if s.onAuthFail == nil {
		s.onAuthFail = func() {}
	}
}

// admit lets a client in: at once without authentication, else once its
// first line is "AUTH <token>" with a token Authenticate knows. It returns
// the token's grant (nil without authentication) and what the client sent
// after its AUTH line. A client refused has been told, in one line that
// says nothing of what was wrong, and counted; the caller closes it.
func (cn *conn) admit() (*transports.Grant, []byte, bool) {
	cn.meta = &transports.Peer{Addr: cn.c.RemoteAddr().String(), Transport: "tcp"}
	if cn.s.auth == nil {
		return nil, nil, true
	}
	g, pending, ok := cn.authenticate()
	if !ok {
		cn.s.onAuthFail()
		cn.out = append(cn.out, unauthorized)
		cn.write()
		cn.debug("raw tcp client refused: not authenticated")
		return nil, nil, false
	}
	cn.scope = g.Scope
	cn.meta.Token, cn.meta.Filter, cn.meta.Grant = g.Name, g.Scope.String(), g
	return g, pending, true
}

// tokenSlot takes a subscriber slot of the client's token besides its
// address's (release); the release it returns gives both back.
func (cn *conn) tokenSlot(g *transports.Grant, release func()) (func(), error) {
	if g == nil {
		return release, nil
	}
	releaseToken, err := cn.s.tokens.Acquire(g.Key)
	if err != nil {
		release()
		return nil, err
	}
	return func() {
		releaseToken()
		release()
	}, nil
}

// authenticate reads the client's first line, within the auth timeout,
// and checks it is "AUTH <token>" with a token Authenticate knows. It
// returns the token's grant and whatever the client sent after that line.
// Nothing is written to the client here. The read blocks this connection's
// own goroutine, bounded by the deadline; a connection waits in the poller only once
// it is let in.
func (cn *conn) authenticate() (*transports.Grant, []byte, bool) {
	cn.c.SetReadDeadline(time.Now().Add(cn.s.authTimeout))
	defer cn.c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, readBufferBytes)
	for {
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line := string(bytes.TrimRight(buf[:i], "\r"))
			rest := bytes.Clone(buf[i+1:])
			secret, ok := strings.CutPrefix(line, "AUTH ")
			if !ok {
				return nil, nil, false
			}
			g, ok := cn.s.auth(strings.TrimSpace(secret))
			return g, rest, ok
		}
		if len(buf) > maxCommand {
			return nil, nil, false
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, readBufferBytes)...)[:len(buf)]
		}
		n, err := cn.c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return nil, nil, false
		}
	}
}
