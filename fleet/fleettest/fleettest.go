// Package fleettest runs a real NATS server with JetStream in the test's
// process, on loopback, for the tests of every package that talks to NATS.
package fleettest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Run starts a NATS server with JetStream on 127.0.0.1 with o's settings
// (authentication, TLS, ...; nil: none). Port 0 means a free one (for
// nats-server itself 0 would mean 4222), StoreDir "" a temporary one. The
// server is shut down when the test ends.
func Run(tb testing.TB, o *server.Options) *server.Server {
	tb.Helper()
	if o == nil {
		o = &server.Options{}
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.StoreDir == "" {
		o.StoreDir = tb.TempDir()
	}
	o.Host, o.JetStream, o.NoLog, o.NoSigs = "127.0.0.1", true, true, true
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("NewServer()=%v", err)
	}
	s.Start()
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS is not ready")
	}
	return s
}
