package main

import (
	"context"
	"fmt"
	"time"
)

// idleSettle is how long the server gets to finish setting up (or tearing
// down) idle connections before its RSS is read.
const idleSettle = time.Second

// measureIdle reads the server tree's RSS, opens o.idleSubs subscribers
// that receive nothing (no lines are written meanwhile), reads the RSS
// again, and closes them. Their streams are never read: there is nothing
// to read, and the connections are closed before any line is written.
func measureIdle(ctx context.Context, o *options, srv *server, deadline time.Time) (*idleResult, error) {
	if srv.pid <= 0 {
		return nil, fmt.Errorf("--idle-subs needs the server's process: start it with the tool, or give --target-pid")
	}
	time.Sleep(idleSettle)
	before, pssBefore := treeRSS(srv.pid), treePSS(srv.pid)
	subs := make([]*sub, o.idleSubs)
	h := &histogram{} // shared: nothing is recorded in it
	for i := range subs {
		subs[i] = newSub(i, o.kindOf(i), 0, h)
	}
	ep := srv.ep
	ep.bufSize = 4 << 10 // the tool's memory, not the server's; nothing is read
	conns, err := dialAll(ctx, subs, ep, deadline, false)
	if err != nil {
		return nil, fmt.Errorf("idle subscribers: %w", err)
	}
	time.Sleep(idleSettle)
	after, pssAfter := treeRSS(srv.pid), treePSS(srv.pid)
	for _, c := range conns {
		c.c.Close()
	}
	time.Sleep(idleSettle)
	r := &idleResult{Subs: o.idleSubs, Transport: o.transport, RSSBefore: before, RSSAfter: after,
		BytesPerSub: float64(after-before) / float64(o.idleSubs)}
	if pssBefore > 0 && pssAfter > 0 {
		per := float64(pssAfter-pssBefore) / float64(o.idleSubs)
		r.PSSBefore, r.PSSAfter, r.PSSBytesPerSub = pssBefore, pssAfter, &per
	}
	return r, nil
}
