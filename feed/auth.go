package feed

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/weblogd/weblogd/auth"
	"github.com/weblogd/weblogd/transports"
	"github.com/weblogd/weblogd/web"
)

// Where a request can be refused for its credentials: the label values of
// weblogd_auth_failures_total, all present from the start.
const (
	placeAPI       = "api"
	placeDashboard = "dashboard"
	placeMetrics   = "metrics" // /metrics, /healthz, /readyz with AuthMetrics
	placeLogin     = "login"
	placeAdmin     = "admin"
)

var authPlaces = []string{transportTCP, transportHits, transportEvents, transportWS, placeAPI, placeDashboard, placeMetrics, placeLogin, placeAdmin, placeIngest}

// sessionCookie names the browser session's cookie.
const sessionCookie = "weblogd_session"

// maxLoginBody bounds a login form: a token and a dashboard query string.
const maxLoginBody = 8 << 10

// unauthorizedReason is the whole answer to a refused request: one line
// that says nothing of what was missing or wrong.
const unauthorizedReason = "unauthorized"

// credentials finds the token a request carries: an Authorization: Bearer
// header, else (when cookies is set) a session cookie from the login page,
// with its session. A header that is there but wrong fails, whatever the
// cookie says. why is for the server's log only, never for the client.
func (s *Server) credentials(r *http.Request, file *auth.File, cookies bool) (tok *auth.Token, sess auth.Session, why string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, sess, "not a bearer Authorization header"
		}
		t, ok := file.Check(strings.TrimSpace(secret))
		if !ok {
			return nil, sess, "unknown bearer token"
		}
		return t, sess, ""
	}
	if !cookies {
		return nil, sess, "no Authorization header"
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, sess, "no Authorization header and no session cookie"
	}
	t, sess, ok := s.sessions.Check(file, c.Value, time.Now())
	if !ok {
		return nil, auth.Session{}, "invalid, expired or ended session, or its token was removed"
	}
	return t, sess, ""
}

// requireToken lets through requests with a token of the token file (or
// a session from the login page), with the token's Grant in their context
// (transports.ParseRequest ANDs its filter in; a stream keeps it, and is
// ended when it is revoked: revoke.go). Others get 401. Without a token
// file it is h itself.
func (s *Server) requireToken(place string, h http.Handler) http.Handler {
	if s.tokens == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, sess, why := s.credentials(r, s.tokens, true)
		if tok == nil {
			s.refuseAuth(w, r, place, why)
			return
		}
		g := tok.Grant
		if sess.ID != "" {
			if time.Until(sess.Expires) < s.sessions.Lifetime()/2 {
				// An open dashboard renews its session: the same session,
				// a cookie that lasts longer.
				if v, renewed, ok := s.sessions.Renew(tok, sess, time.Now()); ok {
					s.setSession(w, r, v, renewed.Expires)
				}
			}
			sg := *g
			sg.Session = string(sess.ID)
			g = &sg
		}
		h.ServeHTTP(w, r.WithContext(transports.WithGrant(r.Context(), g)))
	})
}

// refuseAuth answers 401 with the one-line reason and logs why, without
// the credentials. A browser asking for the dashboard page gets the login
// form instead of the line.
func (s *Server) refuseAuth(w http.ResponseWriter, r *http.Request, place, why string) {
	s.authFailures[place].Add(1)
	s.log.Debug("request refused: not authenticated", "where", place, "path", r.URL.Path, "remote", r.RemoteAddr, "why", why)
	h := w.Header()
	h.Set("WWW-Authenticate", `Bearer realm="weblogd"`)
	h.Set("Cache-Control", "no-store")
	if place == placeDashboard && (r.URL.Path == "/" || r.URL.Path == "/index.html") && acceptsHTML(r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		web.WriteLogin(w, web.Login{Action: "login", Next: dashboardQuery(r.URL.RawQuery)})
		return
	}
	http.Error(w, unauthorizedReason, http.StatusUnauthorized)
}

func acceptsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// dashboardQuery is the query string to return to after logging in: the
// dashboard's own parameters, nothing that could lead elsewhere.
func dashboardQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	return "?" + q.Encode()
}

// setSession gives the browser the session cookie value v: HttpOnly (page
// scripts never see it), SameSite=Strict (no other site's page can make
// the browser use it), Secure over TLS, scoped to the base path, lasting
// the session's lifetime.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, v string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: s.cfg.BasePath,
		Expires: expires, MaxAge: int(s.sessions.Lifetime() / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// loginPage answers GET /login with the form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	web.WriteLogin(w, web.Login{Action: "login", Next: dashboardQuery(r.URL.Query().Get("next"))})
}

// login answers POST /login: a right token gets a session cookie and a
// redirect to the dashboard (keeping its query); anything else 401 and the
// form again. A post from another origin is refused (with SameSite=Strict
// cookies this is belt and braces).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
			http.Error(w, "forbidden: cross-origin login", http.StatusForbidden)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		transports.BadRequest(w, errors.New("want a login form"))
		return
	}
	next := dashboardQuery(strings.TrimPrefix(r.PostForm.Get("next"), "?"))
	tok, ok := s.tokens.Check(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok {
		s.authFailures[placeLogin].Add(1)
		s.log.Debug("login refused", "remote", r.RemoteAddr)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		web.WriteLogin(w, web.Login{Action: "login", Next: next, Failed: true})
		return
	}
	v, sess := s.sessions.Issue(tok, time.Now())
	s.setSession(w, r, v, sess.Expires)
	s.log.Debug("logged in", "remote", r.RemoteAddr, "token", tok.Name())
	seeOther(w, "./"+next)
}

// seeOther redirects to a URL relative to the request's own, as the
// browser resolves it: http.Redirect would make it absolute from the path
// the handler sees, which under a base path has lost its prefix.
func seeOther(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// logout answers POST /logout: the session ends for good, whatever
// copies of its cookie are left, its streams with it, and the cookie is
// cleared.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, ok := s.sessions.End(c.Value); ok {
			s.log.Debug("logged out", "remote", r.RemoteAddr)
			s.revokeStreams()
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: s.cfg.BasePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	seeOther(w, "./login")
}

// tokenSlot holds a subscriber slot of the request's token (Grant.Key)
// for as long as its stream lives: until the handler returns. A token over
// MaxSubscribersPerToken gets 503 like the other limits.
func (s *Server) tokenSlot(c *transports.Counters, h http.Handler) http.Handler {
	if s.tokenLimit == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := transports.GrantOf(r.Context())
		if g == nil || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		release, err := s.tokenLimit.Acquire(g.Key)
		if err != nil {
			s.log.Debug("subscriber refused", "token", g.Name, "remote", r.RemoteAddr, "err", err)
			transports.Refuse(w, err, c)
			return
		}
		defer release()
		h.ServeHTTP(w, r)
	})
}

// loadAdminTokens reads the admin token file: the same syntax, but a
// filter would mean nothing there, so one is refused.
func loadAdminTokens(path string, log *slog.Logger) (*auth.File, error) {
	f, err := auth.Load(path, log)
	if err != nil {
		return nil, fmt.Errorf("admin tokens: %w", err)
	}
	if f.HasScopes() {
		return nil, fmt.Errorf("admin tokens: %s: a filter on an admin token means nothing: the admin API sees every subscriber", path)
	}
	return f, nil
}

// requireAdmin lets through requests with an admin token (bearer only:
// the admin API is for scripts, and a browser's session must never open
// it). Others get 401.
func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _, why := s.credentials(r, s.admin, false)
		if tok == nil {
			s.refuseAuth(w, r, placeAdmin, why)
			return
		}
		s.log.Info("admin request", "method", r.Method, "path", r.URL.Path, "token", tok.Name(), "remote", r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}
