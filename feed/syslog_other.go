//go:build !linux

package feed

import "net"

// watchDrops does nothing: only Linux tells a socket's drops this way.
func watchDrops(*net.UDPConn) {}

func dropCount([]byte) (uint32, bool) { return 0, false }

func socketInode(*net.UDPConn) uint64 { return 0 }

func procDrops(uint64) (uint64, bool) { return 0, false }

// batchReader is Linux's; elsewhere datagrams are read one at a time.
type batchReader struct{}

func newBatchReader(*net.UDPConn, int) *batchReader { return nil }

func (*batchReader) read() (int, error) { return 0, nil }
func (*batchReader) msg(int) []byte     { return nil }
func (*batchReader) oob(int) []byte     { return nil }
