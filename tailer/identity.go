package tailer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fingerprintBytes caps the fingerprint: a file is fingerprinted by its
// first line, or by its first fingerprintBytes when that line is longer.
// 1 KiB holds the first line of an access log, whose client and timestamp
// differ from file to file.
const fingerprintBytes = 1 << 10

// FileID tells one file from another, across renames and restarts: its
// device and inode, and a fingerprint of its first line. Filesystems reuse
// a deleted file's inode at once, often for its replacement, so the inode
// alone is not enough; the first line of a log (a client and a timestamp)
// tells the generations of one path apart, and appending never changes
// it.
//
// FileID is comparable: every Line read from one file carries the same
// FileID, unless the file is truncated in place and starts again with
// another first line, which makes it another file. The zero FileID means
// "unknown".
type FileID struct {
	Dev   uint64
	Inode uint64
	// Fingerprint is a hash of the file's first FingerprintLen bytes: its
	// first line with its "\n", or its first 1 KiB when that line is
	// longer. Both are zero while the file has no complete first line (no
	// line of it has been read yet), and then the file is known by device
	// and inode alone.
	Fingerprint    uint64
	FingerprintLen int
}

// IsZero reports whether id is the zero FileID: no file.
func (id FileID) IsZero() bool { return id == FileID{} }

// endBytes caps how much of the end of the last line read a Position
// remembers (with the lines before it, when it is shorter). A file
// truncated and written again past the offset, with the same first line,
// is told from the file it was by these bytes: the new content would have
// to be the same, byte for byte, just before the offset.
const endBytes = 128

// Position is a place in one file: just after the last line read from it.
type Position struct {
	File   FileID
	Offset int64
	// End is a hash of the EndLen bytes just before Offset: the end of
	// the last line read, up to endBytes. A file that holds other bytes
	// there is not the file that was read, whatever its inode, first
	// line and size. Both are zero when unknown: then only those are
	// checked.
	End    uint64
	EndLen int
}

// fingerprintOf returns the part of head, the first bytes of a file, that
// fingerprints it, or nil when the file's first line is not complete yet.
func fingerprintOf(head []byte) []byte {
	head = head[:min(len(head), fingerprintBytes)]
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		return head[:i+1]
	}
	if len(head) == fingerprintBytes {
		return head
	}
	return nil
}

// hashOf is FileID.Fingerprint for the fingerprinted bytes fp.
func hashOf(fp []byte) uint64 {
	sum := sha256.Sum256(fp)
	return binary.BigEndian.Uint64(sum[:8])
}

// statID returns the device and inode of fi, the result of a stat.
func statID(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Ino), true // Dev is narrower on some platforms
}

// sameInode reports whether fi, the result of a stat, is the file id.
func (id FileID) sameInode(fi fs.FileInfo) bool {
	dev, ino, ok := statID(fi)
	return ok && dev == id.Dev && ino == id.Inode
}

// identify returns the identity of the open file f, its fingerprinted
// first bytes (nil while its first line is incomplete) and its size.
func identify(f *os.File) (id FileID, fp []byte, fi fs.FileInfo, err error) {
	fi, err = f.Stat()
	if err != nil {
		return FileID{}, nil, nil, err
	}
	dev, ino, ok := statID(fi)
	if !ok {
		return FileID{}, nil, nil, errors.New("no inode on this platform")
	}
	id = FileID{Dev: dev, Inode: ino}
	if !fi.Mode().IsRegular() {
		return id, nil, fi, nil
	}
	head := make([]byte, min(fi.Size(), fingerprintBytes))
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return FileID{}, nil, nil, err
	}
	if fp = fingerprintOf(head[:n]); fp != nil {
		id.Fingerprint, id.FingerprintLen = hashOf(fp), len(fp)
	}
	return id, fp, fi, nil
}

// startsLike reports whether the open file f starts with the bytes that
// id fingerprints. A FileID without a fingerprint matches any file.
func (id FileID) startsLike(f *os.File) bool {
	if id.FingerprintLen == 0 {
		return true
	}
	if id.FingerprintLen > fingerprintBytes {
		return false // not a fingerprint this package made
	}
	head := make([]byte, id.FingerprintLen)
	if n, err := f.ReadAt(head, 0); n < len(head) && err != nil {
		return false
	}
	fp := fingerprintOf(head)
	return len(fp) == id.FingerprintLen && hashOf(fp) == id.Fingerprint
}

// holds reports whether the open file f, whose stat is fi, is the file p
// was taken from and still holds everything up to p.Offset. The device
// must match too unless the fingerprint does: device numbers can change
// across a reboot (device mapper, network filesystems), while an inode
// with the same first line on another device is the same file.
func (p Position) holds(f *os.File, fi fs.FileInfo) bool {
	dev, ino, ok := statID(fi)
	if !ok || ino != p.File.Inode || (dev != p.File.Dev && p.File.FingerprintLen == 0) {
		return false
	}
	return p.content(f, fi)
}

// content reports whether the open file f, whose stat is fi, holds what
// was read of p's file: at least p.Offset bytes, the same first line, and
// the same end of the last line read. A copy of the file passes too.
func (p Position) content(f *os.File, fi fs.FileInfo) bool {
	return fi.Size() >= p.Offset && p.File.startsLike(f) && p.endsLike(f)
}

// endsLike reports whether the open file f has, just before p.Offset, the
// bytes that p.End hashes. A Position without them matches any file.
func (p Position) endsLike(f *os.File) bool {
	if p.EndLen == 0 {
		return true
	}
	if p.EndLen > endBytes || int64(p.EndLen) > p.Offset {
		return false // not a Position this package made
	}
	b := make([]byte, p.EndLen)
	if n, err := f.ReadAt(b, p.Offset-int64(p.EndLen)); n < len(b) && err != nil {
		return false
	}
	return hashOf(b) == p.End
}

// positionAt is the Position of offset in file id, with end, the bytes
// just before offset.
func positionAt(id FileID, offset int64, end []byte) Position {
	p := Position{File: id, Offset: offset}
	if len(end) > 0 {
		p.End, p.EndLen = hashOf(end), len(end)
	}
	return p
}

// candidate is a file found in a log's directory.
type candidate struct {
	path string
	f    *os.File
	fi   fs.FileInfo
}

// findSibling looks in dir for a regular file that pre (given the
// file's lstat) and then match (given the file open) accept, other than
// the files skip names by inode, and returns it open; of several, the
// largest. It is how a rotated file is found again: after a restart by
// its inode and fingerprint (logrotate renamed access.log to
// access.log.1), and after a copytruncate by its fingerprint alone (the
// copy is a new inode that starts like the file did). It reads the
// directory and at most fingerprintBytes of each file that passes pre, so
// it is only used when a rotation or truncation is found, never on the
// normal path.
func findSibling(dir string, skip []FileID, pre func(fs.FileInfo) bool, match func(*os.File, fs.FileInfo) bool) (*candidate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var best *candidate
next:
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if li, err := e.Info(); err != nil || !pre(li) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO put here since must not block
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			continue
		}
		for _, s := range skip {
			if s.sameInode(fi) {
				f.Close()
				continue next
			}
		}
		if !match(f, fi) || (best != nil && best.fi.Size() >= fi.Size()) {
			f.Close()
			continue
		}
		if best != nil {
			best.f.Close()
		}
		best = &candidate{path: path, f: f, fi: fi}
	}
	return best, nil
}
