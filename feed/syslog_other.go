//go:build !linux

package feed

import "net"

// watchDrops does nothing: only Linux tells a socket's drops this way.
func watchDrops(*net.UDPConn) {}

func dropCount([]byte) (uint32, bool) { return 0, false }

func socketInode(*net.UDPConn) uint64 { return 0 }

func procDrops(uint64) (uint64, bool) { return 0, false }
