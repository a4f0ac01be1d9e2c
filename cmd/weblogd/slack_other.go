//go:build !linux

package main

import "time"

// useTimerSlack does nothing: timer slack (slack.go) is Linux's.
func useTimerSlack(time.Duration) error { return nil }
