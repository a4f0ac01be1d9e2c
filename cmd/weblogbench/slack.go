package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"time"
)

// Timer slack is how late the kernel may end a thread's timed sleep
// (prctl(2), PR_SET_TIMERSLACK; Linux's default is 50 µs). In production
// weblogd runs under deploy/weblogd.service, whose TimerSlackNSec=1ms gives
// it 1 ms: the Go runtime's monitor thread then wakes the server's core
// far less often. The tool gives every server it starts the same slack,
// peers included, so that each runs as it would in production.

// maxTimerSlack keeps a typo from making every timer of the server fire
// seconds late.
const maxTimerSlack = 100 * time.Millisecond

// startWithSlack starts cmd with the timer slack slack (none when 0). Slack
// is per thread and a new process takes the one of the thread that made
// it, through exec too: so cmd is started from a thread of its own that
// sets the slack first. That thread is never handed back to the runtime
// (the goroutine ends still locked to it, and the runtime ends the
// thread), so the tool's own timers keep the default.
func startWithSlack(cmd *exec.Cmd, slack time.Duration) error {
	if slack <= 0 {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() { // ends once cmd is started
		runtime.LockOSThread() // never unlocked: see above
		if err := setThreadSlack(slack); err != nil {
			errc <- fmt.Errorf("set the timer slack to %v: %w", slack, err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}
