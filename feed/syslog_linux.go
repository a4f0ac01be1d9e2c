package feed

import (
	"encoding/binary"
	"net"

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
