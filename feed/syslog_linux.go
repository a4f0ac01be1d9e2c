package feed

import (
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"strings"

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
