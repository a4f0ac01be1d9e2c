package broadcast

import "time"

// Lanes spread a tick's writes over the tick. A flush is a write to every
// subscriber, and a write to a socket costs the server's core some ten
// microseconds on loopback (12 ms for a tick's records to 1,000 WebSocket
// subscribers, measured): flushed all at once at the end of the tick, the
// last subscriber written gets a record the tick plus those 12 ms after it
// arrived, and at 10,000 subscribers a tick's writes fill the core for
// about the whole tick.
//
// So the hub keeps its subscribers in lanes, and with many subscribers it
// cuts the tick into steps, each flushing a few of the lanes: every lane is
// still flushed once a tick, with everything it has not been offered yet,
// so no record waits longer than the tick for anyone and a subscriber gets
// no more writes than before, but each step writes to a fraction of the
// subscribers and the writes are spread evenly over the tick. Lanes at the
// same position share one batch (encoded once per format); since each step
// offers its lanes a batch of their own, a record is encoded once per step
// that offers it, at most nlanes times, which at the rates many subscribers
// can be sent at all costs far less than the writes it spreads.
//
// With few subscribers, a burst (Publish pressing) or a leading edge, every
// lane is flushed at once, as when there were no lanes.
const (
	// nlanes is how many lanes there are, and the most steps a tick is
	// cut into (steps are powers of two, each a whole number of lanes).
	nlanes = 16
	// stepSubs is the fewest subscribers a step should write to: a tick is
	// cut into two steps from 2×stepSubs subscribers on, four from
	// 4×stepSubs, and so on. 128 to 256 writes take 1.5 to 3 ms. Each
	// step costs the server a wake-up of its own and more wake-ups of its
	// readers. Measured at 1,000 subscribers × 1,000 lines/s: 1 step p99
	// 67 ms; 4 steps of 250 p99 55 ms at a point more of a core (medians
	// of 3, 26.5% against 25.5%); 8 steps of 125 p99 52 ms at 3.9 points
	// more (a pair of runs profiled side by side).
	stepSubs = 128
	// minStep is the shortest step: each costs the hub a wake-up and the
	// feed a read of its logs (HubConfig.Gather).
	minStep = time.Millisecond
)

// lane is a set of subscribers that are always flushed together.
type lane struct {
	subs    map[*Subscription]struct{}
	offered uint64 // seq of the newest record offered to the lane
}

// steps returns how many steps a tick is cut into for n subscribers.
func steps(n int, tick time.Duration) int {
	g := 1
	for g < nlanes && 2*g*stepSubs <= n && tick/time.Duration(2*g) >= minStep {
		g *= 2
	}
	return g
}

// stepLanes returns the lanes [lo, hi) that step i of a tick of g steps
// flushes.
func stepLanes(i, g int) (lo, hi int) {
	w := nlanes / g
	return i * w, (i + 1) * w
}

// joinLane puts s in the lane with the fewest subscribers, so that steps
// stay even as subscribers come and go.
func (h *Hub) joinLane(s *Subscription) {
	best := 0
	for i := range h.lanes {
		if len(h.lanes[i].subs) < len(h.lanes[best].subs) {
			best = i
		}
	}
	l := &h.lanes[best]
	if l.subs == nil {
		l.subs = make(map[*Subscription]struct{})
	}
	s.lane = uint8(best)
	l.subs[s] = struct{}{}
}
