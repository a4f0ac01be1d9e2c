package feed

import (
	"net/http"
	"strings"

	"github.com/weblogd/weblogd/web"
)

// Handler returns the whole HTTP surface under Config.BasePath. It can be
// mounted on an embedder's own mux; streams it serves need Run to be
// running.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.Handle("GET /hits", s.hits)
	mux.Handle("GET /events", s.events)
	mux.Handle("GET /ws", s.ws)
	mux.HandleFunc("GET /api/hits", s.apiHits)
	mux.HandleFunc("GET /api/status", s.apiStatus)
	mux.Handle("GET /", web.Handler())

	base := strings.TrimSuffix(s.cfg.BasePath, "/")
	if base == "" {
		return mux
	}
	outer := http.NewServeMux()
	outer.Handle(base+"/", http.StripPrefix(base, mux))
	outer.Handle(base, http.RedirectHandler(base+"/", http.StatusMovedPermanently))
	return outer
}

// readyz is 200 when every log is followed, and 503 with the reasons, one
// per line, otherwise.
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
	return s.src.notReady()
}
