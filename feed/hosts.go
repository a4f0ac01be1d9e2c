package feed

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/weblogd/weblogd/web"
)

// What the HTTP server checks of every request before any route: who the
// client is (behind a trusted proxy), which host it asked for (a server on
// loopback answers loopback names only), and the headers that keep a page
// from being framed or a response sniffed.

// parsePrefix reads a trusted proxy: a CIDR, or one address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("trusted proxy %q: want an address or a CIDR (10.0.0.0/8)", s)
}

// validHost reports whether h is a host name or an address, with no
// scheme, path or port.
func validHost(h string) bool {
	if _, _, err := net.SplitHostPort(h); err == nil || h == "" {
		return false
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Zone() == ""
	}
	return !strings.ContainsAny(h, "/:@ \t[]")
}

// normHost is a host name as compared: lower case, without a port,
// brackets or a trailing dot.
func normHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}

// loopbackOnly reports whether addr (host:port) listens on loopback only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// hostAllowed reports whether a request for host (its Host header) is
// answered: a loopback name or address (a browser on the machine uses
// them, and no other site's page can), or one of AllowHosts.
func (s *Server) hostAllowed(host string) bool {
	h := normHost(host)
	if a, err := netip.ParseAddr(h); err == nil && a.IsLoopback() || h == "localhost" {
		return true
	}
	for _, n := range s.cfg.AllowHosts {
		if h == normHost(n) {
			return true
		}
	}
	return false
}

// contentSecurityPolicy is the page policy of every response: files of
// this server only, no inline script or handler, no inline style but the
// login form's (by its hash: that page loads no file), no framing by
// another site, forms posted here only.
var contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' " + web.LoginStyle + "; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"

// front stands before every route: the client's address from a trusted
// proxy's header, the host check, the page headers.
func (s *Server) front(h http.Handler) http.Handler {
	checkHost := len(s.cfg.AllowHosts) > 0 || s.cfg.HTTPAddr != NoListen && loopbackOnly(s.cfg.HTTPAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.trusted) > 0 {
			if addr, ok := s.forwardedClient(r); ok {
				r = r.WithContext(r.Context()) // a copy: the caller's request stays as it was
				r.RemoteAddr = addr
			}
		}
		if checkHost && !s.hostAllowed(r.Host) {
			s.log.Debug("request refused: host not served", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, fmt.Sprintf("misdirected request: host %q is not served here (weblogd answers loopback names and --allow-host)", normHost(r.Host)), http.StatusMisdirectedRequest)
			return
		}
		hd := w.Header()
		// No other site may frame a page (clickjacking the dashboard or the
		// login form), and no response is read as another type than it says.
		// The dashboard loads its own script and style only, and talks to
		// this server only: an injected script or style would not run.
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		hd.Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// trustedPeer reports whether a is one of the trusted proxies.
func (s *Server) trustedPeer(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedClient returns the client address ("ip:0") of a request that
// came through a trusted proxy: the rightmost address of its Forwarded
// (else X-Forwarded-For) chain that is not a trusted proxy's. Addresses
// left of that one were written by the client or by proxies nobody
// vouches for, and are never used. A request from another peer, or whose
// chain says nothing usable, keeps its peer's address (false).
func (s *Server) forwardedClient(r *http.Request) (string, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !s.trustedPeer(peer.Addr()) {
		return "", false
	}
	chain := forwardedFor(r.Header.Values("Forwarded"))
	if chain == nil {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, a := range strings.Split(v, ",") {
				chain = append(chain, strings.TrimSpace(a))
			}
		}
	}
	client := netip.Addr{}
	for i := len(chain) - 1; i >= 0; i-- {
		a, ok := parseForwardedAddr(chain[i])
		if !ok {
			break // "unknown", an obfuscated name, garbage: nothing to its left can be placed
		}
		client = a
		if !s.trustedPeer(a) {
			break
		}
	}
	if !client.IsValid() {
		return "", false
	}
	return netip.AddrPortFrom(client, 0).String(), true
}

// forwardedFor returns the for= values of Forwarded headers (RFC 7239),
// in order; nil if there is none.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, strings.Trim(val, `"`))
				}
			}
		}
	}
	return out
}

// parseForwardedAddr reads one address of a chain: 192.0.2.1,
// 192.0.2.1:4711, 2001:db8::1, [2001:db8::1]:4711.
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
