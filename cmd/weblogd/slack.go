package main

import "time"

// Timer slack is how late the kernel may end a thread's timed sleep
// (prctl(2), PR_SET_TIMERSLACK; Linux's own default is 50 µs).
//
// Why weblogd sets it: the Go runtime's monitor thread (sysmon) naps 20 µs
// at a time for the first millisecond after the process wakes from idle,
// and a system call made while it sleeps deeply starts that over
// (golang/go#18236, open). weblogd wakes from idle at each step of each
// tick and for each read of the log, so with 1,000 WebSocket subscribers
// at 1,000 lines/s those naps were about 900 wakes a second, each taking
// the server's core from its writers and back: 9.5% of its CPU samples.
// With 1 ms of slack they come ten times less often (nanosleeps 917 → 90 a
// second, context switches 1,900 → 300), and in 4 alternated runs the
// server used 23.2–24.9% of a core instead of 25.2–31.6%.
// A timer of weblogd's own (a tick, a write deadline, a heartbeat) may then
// fire up to 1 ms late; --tick 0 and the leading edge are woken by the
// log, not by a timer, and are as fast as before.
const (
	defaultTimerSlack = time.Millisecond
	// maxTimerSlack keeps a typo from making every tick fire seconds late.
	maxTimerSlack = 100 * time.Millisecond
)
