package feed

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/transports"
	"github.com/weblogd/weblogd/web"
)

// Handler returns the whole HTTP surface under Config.BasePath. It can be
// mounted on an embedder's own mux; streams it serves need Run to be
// running.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	// With a token file, everything but the probes and the login page
	// needs a token (requireToken); the probes too with AuthMetrics.
	probe := func(h http.Handler) http.Handler {
		if s.cfg.AuthMetrics {
			return s.requireToken(placeMetrics, h)
		}
		return h
	}
	// A stream: its token's grant, then a slot of the token's subscribers
	// (the WebSocket handler takes its own, held until its connection
	// ends).
	stream := func(name string, h http.Handler) http.Handler {
		return s.requireToken(name, s.tokenSlot(s.counters[name], h))
	}
	// Everything but the streams is one bounded response: it gets one
	// write deadline. The streams set a deadline on every write.
	mux.Handle("GET /healthz", probe(s.bounded(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	}))))
	mux.Handle("GET /readyz", probe(s.bounded(http.HandlerFunc(s.readyz))))
	mux.Handle("GET /metrics", probe(s.bounded(s.metricsHandler())))
	mux.Handle("GET /hits", stream(transportHits, s.hits))
	mux.Handle("GET /events", stream(transportEvents, s.events))
	mux.Handle("GET /ws", s.requireToken(transportWS, s.ws))
	mux.Handle("GET /api/hits", s.requireToken(placeAPI, s.bounded(http.HandlerFunc(s.apiHits))))
	mux.Handle("GET /api/status", s.requireToken(placeAPI, s.bounded(http.HandlerFunc(s.apiStatus))))
	mux.Handle("GET /api/stats", s.requireToken(placeAPI, s.bounded(http.HandlerFunc(s.apiStats))))
	mux.Handle("GET /", s.requireToken(placeDashboard, s.bounded(web.Handler())))
	if s.tokens != nil {
		mux.Handle("GET /login", s.bounded(http.HandlerFunc(s.loginPage)))
		mux.Handle("POST /login", s.bounded(http.HandlerFunc(s.login)))
		mux.Handle("POST /logout", s.bounded(http.HandlerFunc(s.logout)))
	}
	if s.ingestTokens != nil {
		// PUT is what curl -T sends. Not bounded: a body may stream for
		// hours; the answer gets its write deadline when it is written.
		mux.Handle("POST /ingest", http.HandlerFunc(s.serveIngest))
		mux.Handle("PUT /ingest", http.HandlerFunc(s.serveIngest))
	} else {
		// Off, it is not there: 404, not the dashboard's 405.
		mux.Handle("POST /ingest", http.NotFoundHandler())
		mux.Handle("PUT /ingest", http.NotFoundHandler())
	}
	if s.admin != nil {
		mux.Handle("GET /admin/subscribers", s.requireAdmin(s.bounded(http.HandlerFunc(s.adminSubscribers))))
		mux.Handle("DELETE /admin/subscribers/{id}", s.requireAdmin(s.bounded(http.HandlerFunc(s.adminDisconnect))))
		mux.Handle("GET /admin/settings", s.requireAdmin(s.bounded(http.HandlerFunc(s.adminSettings))))
		mux.Handle("PUT /admin/settings", s.requireAdmin(s.bounded(http.HandlerFunc(s.adminPutSettings))))
	}

	base := strings.TrimSuffix(s.cfg.BasePath, "/")
	if base == "" {
		return s.front(validPath(mux))
	}
	outer := http.NewServeMux()
	outer.Handle(base+"/", http.StripPrefix(base, mux))
	outer.Handle(base, http.RedirectHandler(base+"/", http.StatusMovedPermanently))
	return s.front(validPath(outer))
}

// validPath answers 400 to a path that is not UTF-8 once unescaped
// ("/%ff"): it names nothing served here, and the dashboard's file server
// would call it an internal error.
func validPath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			http.Error(w, "bad request: the path is not valid UTF-8 once unescaped", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bounded gives a non-streaming response one write deadline: the server
// has no WriteTimeout (it would cut the streams), so without this a client
// that never reads a large /api/hits page would hold its goroutine.
func (s *Server) bounded(h http.Handler) http.Handler {
	timeout := s.cfg.WriteTimeout
	if timeout <= 0 {
		timeout = transports.DefaultWriteTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An embedder's ResponseWriter may not support deadlines; the
		// response then goes without one, as it would anyway.
		// (net/http flushes the response within it and clears it before the
		// connection serves its next request.)
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
		h.ServeHTTP(w, r)
	})
}

// readyz is 200 when every log is followed, the checkpoint (StatePath)
// is being saved and, with Subscribe, the records are taken from NATS;
// 503 with the reasons, one per line, otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	why := s.notReady()
	if len(why) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(strings.Join(why, "\n") + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) notReady() []string {
	select {
	case <-s.ready:
	default:
		return []string{"starting"}
	}
	select {
	case <-s.stopping:
		return []string{"shutting down"}
	default:
	}
	why := append(s.src.notReady(), s.streams.notReady()...)
	for _, l := range s.syslogListeners() {
		if f := l.failure.Load(); f != nil {
			why = append(why, "syslog "+l.url+": "+*f)
		}
	}
	if f := s.stateFault.Load(); f != nil {
		why = append(why, "cannot save the checkpoint: "+*f)
	}
	if s.edge != nil {
		// An edge serves nothing until it takes records from NATS. A
		// publisher that cannot reach NATS still serves its own logs (and
		// buffers for NATS): /api/status shows it.
		if r := s.edge.NotReady(); r != "" {
			why = append(why, r)
		}
	}
	return why
}
