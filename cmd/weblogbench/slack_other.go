//go:build !linux

package main

import (
	"errors"
	"time"
)

func setThreadSlack(time.Duration) error {
	return errors.New("only Linux has a timer slack to set; give --timer-slack 0")
}
