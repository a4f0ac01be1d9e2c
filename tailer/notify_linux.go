//go:build linux

package tailer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Events that wake a follower. On the directory: a name appearing,
// disappearing or changing (rotation, deletion, a new file), or the
// directory itself going away. On an open file, watched by inode so that
// the watch follows it through renames: writes (a truncation is one too),
// a changed link count (deleted), a rename, the inode going away.
const (
	dirEvents = syscall.IN_CREATE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_DELETE |
		syscall.IN_ATTRIB | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ONLYDIR
	fileEvents = syscall.IN_MODIFY | syscall.IN_ATTRIB | syscall.IN_MOVE_SELF | syscall.IN_DELETE_SELF
)

// notifyReadBytes is the buffer for reading events: room for hundreds of
// events, each a 16-byte header and a name, per read.
const notifyReadBytes = 64 << 10

// notifier is the process's one inotify instance, shared by every Run: an
// instance is a scarce resource (fs.inotify.max_user_instances is 128 by
// default), and a glob of vhost logs may follow hundreds of files. Watches
// are keyed by watch descriptor, which names an inode, not a path, and a
// watch shared by several followers (two logs in one directory) is
// removed when the last of them lets go.
//
// The first acquire starts the goroutine that reads events; the last
// release closes the instance and waits for that goroutine.
type notifier struct {
	file *os.File // the inotify descriptor, non-blocking, so that Close ends a pending Read
	fd   int
	done chan struct{} // closed when the reading goroutine has returned

	mu      sync.Mutex
	watches map[int32][]*registration
}

// registration is one follower's interest in one watch.
type registration struct {
	n    *notifier
	wd   int32
	name string        // for a directory: wake only for events about this name (or the directory itself)
	wake chan struct{} // capacity 1: sent to without blocking
	dead atomic.Bool   // the kernel dropped the watch (its inode is gone)
}

var shared struct {
	mu   sync.Mutex
	n    *notifier
	refs int
}

// acquireNotifier returns the shared notifier, creating it if needed. An
// error (no more inotify instances) leaves the caller to poll.
func acquireNotifier() (*notifier, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.n == nil {
		fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
		if err != nil {
			return nil, fmt.Errorf("create inotify instance: %w", err)
		}
		n := &notifier{
			file:    os.NewFile(uintptr(fd), "inotify"),
			fd:      fd,
			done:    make(chan struct{}),
			watches: map[int32][]*registration{},
		}
		go n.read()
		shared.n = n
	}
	shared.refs++
	return shared.n, nil
}

// release lets go of the notifier; the last release closes it and waits
// for its goroutine.
func (n *notifier) release() {
	shared.mu.Lock()
	shared.refs--
	last := shared.refs == 0
	if last {
		shared.n = nil
	}
	shared.mu.Unlock()
	if last {
		n.file.Close() // ends the pending Read; the kernel drops every watch
		<-n.done
	}
}

// watchDir watches the directory dir for changes to the entry name.
func (n *notifier) watchDir(dir, name string, wake chan struct{}) (*registration, error) {
	return n.add(dir, dirEvents, name, wake)
}

// watchFile watches the open file f, whatever its name is now or later:
// the watch is added through /proc/self/fd, which names the inode itself,
// so it cannot land on another file that took the name meanwhile.
func (n *notifier) watchFile(f *os.File, wake chan struct{}) (*registration, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var reg *registration
	cerr := rc.Control(func(fd uintptr) {
		reg, err = n.add(fmt.Sprintf("/proc/self/fd/%d", fd), fileEvents, "", wake)
	})
	if cerr != nil {
		return nil, cerr
	}
	return reg, err
}

// modify turns the notification of writes to the open file f, watched
// by r, off or on; renames, deletes and attribute changes are notified
// either way. A follower whose reads are paced by Gather needs no wake-up
// per line written. The mask belongs to the inode's watch, so another
// registration of the same inode in this process (a second path linked
// to the same file) loses them too, and polls.
func (r *registration) modify(f *os.File, on bool) error {
	if r == nil {
		return nil
	}
	mask := uint32(fileEvents)
	if !on {
		mask &^= syscall.IN_MODIFY
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		_, err = syscall.InotifyAddWatch(r.n.fd, fmt.Sprintf("/proc/self/fd/%d", fd), mask)
	})
	if cerr != nil {
		return cerr
	}
	return err
}

func (n *notifier) add(path string, mask uint32, name string, wake chan struct{}) (*registration, error) {
	// Under the lock, so that the reader cannot handle an event of this
	// watch before the watch is on record.
	n.mu.Lock()
	defer n.mu.Unlock()
	wd, err := syscall.InotifyAddWatch(n.fd, path, mask)
	if err != nil {
		return nil, &os.PathError{Op: "inotify_add_watch", Path: path, Err: err}
	}
	// Watching an inode that is watched already gives its descriptor
	// again, with the same mask: one watch, one more registration.
	reg := &registration{n: n, wd: int32(wd), name: name, wake: wake}
	n.watches[reg.wd] = append(n.watches[reg.wd], reg)
	return reg, nil
}

// lost reports whether the kernel dropped the watch: what it watched is
// gone, and a new one is needed for whatever takes its place.
func (r *registration) lost() bool { return r == nil || r.dead.Load() }

// close ends the registration; the last one of a watch removes it.
func (r *registration) close() {
	if r == nil {
		return
	}
	n := r.n
	n.mu.Lock()
	defer n.mu.Unlock()
	regs := n.watches[r.wd]
	for i, x := range regs {
		if x == r {
			regs = append(regs[:i:i], regs[i+1:]...)
			break
		}
	}
	if len(regs) > 0 {
		n.watches[r.wd] = regs
		return
	}
	if _, ok := n.watches[r.wd]; ok {
		delete(n.watches, r.wd)
		// EINVAL when the kernel has dropped it already: nothing to do.
		syscall.InotifyRmWatch(n.fd, uint32(r.wd))
	}
}

// read is the notifier's goroutine: it turns events into wake-ups until
// the instance is closed.
func (n *notifier) read() {
	defer close(n.done)
	buf := make([]byte, notifyReadBytes)
	for {
		k, err := n.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// Not expected from inotify; wake everyone so that they
				// look, and stop: followers poll too.
				n.wakeAll()
			}
			return
		}
		n.dispatch(buf[:k])
	}
}

func (n *notifier) dispatch(b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(b) >= syscall.SizeofInotifyEvent {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&b[0])) // #nosec G103 -- the kernel's inotify record layout; the length is checked above
		end := syscall.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := b[syscall.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[end:]
		if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
			// Events were lost: everyone must look.
			n.wakeAllLocked()
			continue
		}
		regs := n.watches[ev.Wd]
		for _, r := range regs {
			if len(name) == 0 || r.name == "" || r.name == string(name) {
				poke(r.wake)
			}
		}
		if ev.Mask&syscall.IN_IGNORED != 0 {
			// The kernel removed the watch: its inode is gone. The
			// descriptor is not reused (the kernel allocates them
			// cyclically), so forget it.
			for _, r := range regs {
				r.dead.Store(true)
				poke(r.wake)
			}
			delete(n.watches, ev.Wd)
		}
	}
}

func (n *notifier) wakeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.wakeAllLocked()
}

func (n *notifier) wakeAllLocked() {
	for _, regs := range n.watches {
		for _, r := range regs {
			poke(r.wake)
		}
	}
}
