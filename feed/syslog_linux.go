package feed

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchDrops asks the kernel to attach to every datagram read from c how
// many it has dropped on the socket so far, for want of room in its
// receive buffer (SO_RXQ_OVFL): loss the sender never hears of.
func watchDrops(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1) })
}

// dropCount reads the drop count from a datagram's control messages.
func dropCount(oob []byte) (uint32, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return binary.NativeEndian.Uint32(m.Data), true
		}
	}
	return 0, false
}

// socketInode returns the inode of c's socket, which names it in
// /proc/net/udp; 0 if it cannot be had.
func socketInode(c *net.UDPConn) uint64 {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var ino uint64
	rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) == nil {
			ino = st.Ino
		}
	})
	return ino
}

// procDrops reads the drop count of the UDP socket with inode ino from
// /proc/net/udp (or udp6): the same count SO_RXQ_OVFL attaches to
// datagrams, but current even when no datagram has come since the drops.
func procDrops(ino uint64) (uint64, bool) {
	if ino == 0 {
		return 0, false
	}
	want := strconv.FormatUint(ino, 10)
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			if len(f) >= 13 && f[9] == want {
				n, err := strconv.ParseUint(f[12], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// syslogBatch is how many datagrams one recvmmsg call may read. Under
// load it reads a batch per system call instead of one datagram; idle,
// it returns with the one there is. Each slot holds a whole message
// (MaxLineBytes), so the batch bounds the memory too.
const syslogBatch = 16

// batchReader reads datagrams from a UDP socket with recvmmsg.
type batchReader struct {
	rc   syscall.RawConn
	bufs [][]byte
	oobs [][]byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
}

// newBatchReader returns a reader of datagrams of up to size bytes from c.
func newBatchReader(c *net.UDPConn, size int) *batchReader {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	b := &batchReader{rc: rc, bufs: make([][]byte, syslogBatch), oobs: make([][]byte, syslogBatch),
		iovs: make([]unix.Iovec, syslogBatch), hdrs: make([]unix.Mmsghdr, syslogBatch)}
	for i := range b.hdrs {
		b.bufs[i] = make([]byte, size)
		b.oobs[i] = make([]byte, 64)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.Iovlen = 1
		b.hdrs[i].Hdr.Control = &b.oobs[i][0]
	}
	return b
}

// read waits for datagrams and reads as many as there are, up to the
// batch; datagram i is then msg(i), its control messages oob(i).
func (b *batchReader) read() (int, error) {
	var n int
	var serr error
	err := b.rc.Read(func(fd uintptr) bool {
		for i := range b.hdrs {
			b.hdrs[i].Hdr.SetControllen(len(b.oobs[i]))
			b.hdrs[i].Hdr.Flags = 0
			b.hdrs[i].Len = 0
		}
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0) // #nosec G103 -- recvmmsg takes the address of the header array, which b keeps alive across the call
		switch e {
		case 0:
			n = int(r)
		case unix.EAGAIN:
			return false // nothing yet: the poller waits
		case unix.EINTR:
			return false
		default:
			serr = e
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, serr
}

func (b *batchReader) msg(i int) []byte { return b.bufs[i][:b.hdrs[i].Len] }

func (b *batchReader) oob(i int) []byte { return b.oobs[i][:b.hdrs[i].Hdr.Controllen] }
