package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// prctl(2) options, from <linux/prctl.h>.
const (
	prSetTimerSlack = 29
	prGetTimerSlack = 30
)

// useTimerSlack gives every thread of the process slack (slack.go), or
// says why it did not. Slack is per thread, a new thread takes its
// creator's, and sysmon is started before any of main's code runs: the one
// way to give it slack is to set it on the thread that calls execve, which
// keeps it. So weblogd starts itself again, once, in place (same process,
// arguments and environment), before it has opened anything. It returns
// only if it did not: slack is 0, already in place (the second time, or
// set by systemd's TimerSlackNSec), or the kernel refused.
func useTimerSlack(slack time.Duration) error {
	if slack <= 0 {
		return nil
	}
	if timerSlack() == slack {
		return nil
	}
	runtime.LockOSThread() // the slack set is this thread's: exec from it
	defer runtime.UnlockOSThread()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, uintptr(slack), 0); errno != 0 {
		return fmt.Errorf("set the timer slack: %w", errno)
	}
	// A kernel that took the call but not the value would otherwise have
	// weblogd start itself again for ever.
	if got := timerSlack(); got != slack {
		return fmt.Errorf("set the timer slack to %v: it is %v", slack, got)
	}
	// Not /proc/self/exe, which works even after the binary was replaced
	// on disk: the kernel names a process after the file it execs, and
	// ps, top and pgrep would see "exe".
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the binary to start again with the timer slack: %w", err)
	}
	err = syscall.Exec(exe, os.Args, os.Environ()) // #nosec G204 -- weblogd itself, with its own arguments and environment
	return fmt.Errorf("start %s again with the timer slack: %w", exe, err)
}

// timerSlack is the calling thread's timer slack.
func timerSlack() time.Duration {
	ns, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, prGetTimerSlack, 0, 0)
	return time.Duration(ns)
}
