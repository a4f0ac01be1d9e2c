package certs

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckInterval is how often, at most, a Pair looks at its files:
// two stats a second cost nothing, and a renewed certificate is served
// within a second of being written.
const DefaultCheckInterval = time.Second

// MinVersion is the oldest TLS version served. TLS 1.0 and 1.1 are
// deprecated (RFC 8996); every client of the last decade speaks 1.2.
const MinVersion = tls.VersionTLS12

// Pair is a certificate (chain) and its private key, read from PEM files
// and read again when either changes: a renewal (certbot, cert-manager, a
// Kubernetes Secret's symlink swap) is served from the next handshake on.
type Pair struct {
	certFile, keyFile string
	log               *slog.Logger
	interval          time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	checked time.Time // when the files were last looked at
	seen    stamp     // the files as last loaded or tried
}

// LoadPair reads the pair; it fails if the pair cannot be loaded now. log
// receives reloads (Info) and failed reloads (Error); nil discards.
func LoadPair(certFile, keyFile string, log *slog.Logger) (*Pair, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pair{certFile: certFile, keyFile: keyFile, log: log, interval: DefaultCheckInterval}
	// Stamp before reading: a change in between is then seen as a change
	// at the next check, never missed.
	p.seen = stampFiles(certFile, keyFile)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	p.cert, p.checked = &cert, time.Now()
	if leaf := cert.Leaf; leaf != nil && time.Now().After(leaf.NotAfter) {
		log.Warn("the TLS certificate has expired", "cert", certFile, "not_after", leaf.NotAfter)
	}
	return p, nil
}

// GetCertificate is for tls.Config.GetCertificate: the current certificate,
// re-read first if the files changed since they were last looked at.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.checked) >= p.interval {
		p.checked = now
		p.reloadLocked()
	}
	return p.cert, nil
}

// reloadLocked loads the files if they differ from what was last seen. A
// pair that fails to load (a certificate written before its key) leaves
// the served one in place and is reported once: the next change of either
// file is tried again.
func (p *Pair) reloadLocked() {
	st := stampFiles(p.certFile, p.keyFile)
	if st.equal(p.seen) {
		return
	}
	p.seen = st
	cert, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		p.log.Error("cannot reload the TLS certificate; still serving the previous one",
			"cert", p.certFile, "key", p.keyFile, "err", err)
		return
	}
	p.cert = &cert
	attrs := []any{"cert", p.certFile}
	if leaf := cert.Leaf; leaf != nil {
		attrs = append(attrs, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
	}
	p.log.Info("reloaded the TLS certificate", attrs...)
}

// Config returns a server configuration that serves p's certificate, TLS
// 1.2 at least. It offers no application protocol: net/http adds h2 and
// http/1.1 itself, and a raw stream needs none.
func (p *Pair) Config() *tls.Config {
	return &tls.Config{MinVersion: MinVersion, GetCertificate: p.GetCertificate}
}

// ServerConfig returns a copy of an embedder's configuration, with
// MinVersion raised to MinVersion where it was left at zero.
func ServerConfig(c *tls.Config) *tls.Config {
	c = c.Clone()
	if c.MinVersion == 0 {
		c.MinVersion = MinVersion
	}
	return c
}

// stamp is what the files looked like: a change of identity (a renamed-in
// or symlink-swapped file), modification time or size means new content.
type stamp [2]struct {
	info os.FileInfo
	err  string
}

func stampFiles(names ...string) stamp {
	var s stamp
	for i, name := range names[:len(s)] {
		fi, err := os.Stat(name) // follows symlinks: the target is what is read
		if err != nil {
			s[i].err = err.Error()
			continue
		}
		s[i].info = fi
	}
	return s
}

func (s stamp) equal(o stamp) bool {
	for i := range s {
		a, b := s[i], o[i]
		if a.err != b.err || (a.info == nil) != (b.info == nil) {
			return false
		}
		if a.info != nil && (!os.SameFile(a.info, b.info) || !a.info.ModTime().Equal(b.info.ModTime()) || a.info.Size() != b.info.Size()) {
			return false
		}
	}
	return true
}
