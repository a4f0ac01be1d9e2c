//go:build !linux

package feed

import "net"

// watchDrops does nothing: only Linux tells a socket's drops this way.
func watchDrops(*net.UDPConn) {}

func dropCount([]byte) (uint32, bool) { return 0, false }
