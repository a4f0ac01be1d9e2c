//go:build !linux

package tailer

import (
	"errors"
	"os"
)

// Without inotify a follower polls (pollInterval).

type notifier struct{}

type registration struct{}

func acquireNotifier() (*notifier, error) {
	return nil, errors.New("no change notification on this platform")
}

func (n *notifier) release() {}

func (n *notifier) watchDir(dir, name string, wake chan struct{}) (*registration, error) {
	return nil, errors.ErrUnsupported
}

func (n *notifier) watchFile(f *os.File, wake chan struct{}) (*registration, error) {
	return nil, errors.ErrUnsupported
}

func (r *registration) lost() bool { return true }

func (r *registration) close() {}

func (r *registration) modify(f *os.File, on bool) error { return nil }
