package main

import (
	"syscall"
	"time"
)

// prSetTimerSlack is PR_SET_TIMERSLACK, from <linux/prctl.h>.
const prSetTimerSlack = 29

// setThreadSlack sets the calling thread's timer slack.
func setThreadSlack(slack time.Duration) error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, uintptr(slack), 0); errno != 0 {
		return errno
	}
	return nil
}
