package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/weblogd/weblogd/tailer"
)

// stateVersion is written into the checkpoint so that a later format can
// tell an old file from a corrupt one. Version 1 kept one device, inode
// and offset per log; version 2 keeps every file a log was being read
// from (the one at the path and rotated ones still being drained), each
// with its fingerprint.
const stateVersion = 2

// checkpoint is the --state file: where each log was read up to, and a
// seq that no seq given out is above, so that a restart loses no line and
// reuses no seq. While the server runs, LastSeq is a reservation: seqs are
// given out only up to what a saved checkpoint says, and after a crash
// the numbering continues past the reservation, however much of it was
// used. A clean shutdown saves the exact last seq.
type checkpoint struct {
	Version int        `json:"version"`
	LastSeq uint64     `json:"last_seq"`
	Logs    []logState `json:"logs"`
}

// maxSeq is the highest seq a server gives out: the largest integer that
// a JavaScript client (the dashboard) reads exactly. At a million lines a
// second it lasts 285 years, so a checkpoint beyond it cannot be right.
const maxSeq = 1<<53 - 1

// logState is where one log was read up to.
type logState struct {
	Path string `json:"path"`
	// Files are the files the log was being read from, as
	// tailer.Tailer.Positions gives them: rotated files still being
	// drained first, the file at the path last. Empty means there was no
	// file yet: one that is there now is read from its start.
	Files []fileState `json:"files"`
}

// fileState is one file of a log and the offset just after the last line
// of it that was in the ring. The file is known by device, inode and
// fingerprint, so that a checkpoint is never applied to another file that
// took the same name, and the old file is found again after a rotation.
type fileState struct {
	Dev            uint64 `json:"dev"`
	Inode          uint64 `json:"inode"`
	Fingerprint    string `json:"fingerprint,omitempty"` // 16 hex digits; absent while the file had no complete line
	FingerprintLen int    `json:"fingerprint_len,omitempty"`
	Offset         int64  `json:"offset"`
	// End is a hash of the EndLen bytes before Offset, the end of the
	// last line read (16 hex digits): a file truncated and written again
	// past Offset is not taken for the one that was read.
	End    string `json:"end,omitempty"`
	EndLen int    `json:"end_len,omitempty"`
}

// stateV1 is the version 1 file: one entry per log, without fingerprint.
type stateV1 struct {
	Files []struct {
		Path   string `json:"path"`
		Dev    uint64 `json:"dev"`
		Inode  uint64 `json:"inode"`
		Offset int64  `json:"offset"`
	} `json:"files"`
}

// loadState reads the checkpoint at path. A missing file is no checkpoint
// and no error; a file that is not a checkpoint this version can read is
// an error, for the caller to report and ignore.
func loadState(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	switch c.Version {
	case stateVersion:
	case 1:
		var old stateV1
		if err := json.Unmarshal(b, &old); err != nil {
			return nil, fmt.Errorf("read state %s: %w", path, err)
		}
		c.Version, c.Logs = stateVersion, nil
		for _, f := range old.Files {
			// Without a fingerprint the tailer matches by device and inode.
			c.Logs = append(c.Logs, logState{Path: f.Path, Files: []fileState{{Dev: f.Dev, Inode: f.Inode, Offset: f.Offset}}})
		}
	default:
		return nil, fmt.Errorf("read state %s: version %d, want %d", path, c.Version, stateVersion)
	}
	if c.LastSeq > maxSeq {
		return nil, fmt.Errorf("read state %s: last_seq %d is beyond any seq a server gives out (%d)", path, c.LastSeq, uint64(maxSeq))
	}
	for _, l := range c.Logs {
		if _, err := l.positions(); err != nil {
			return nil, fmt.Errorf("read state %s: log %s: %w", path, l.Path, err)
		}
	}
	return &c, nil
}

// log returns the checkpoint's entry for the log at path.
func (c *checkpoint) log(path string) (logState, bool) {
	if c == nil {
		return logState{}, false
	}
	for _, l := range c.Logs {
		if l.Path == path {
			return l, true
		}
	}
	return logState{}, false
}

// positions converts the entry for tailer.Config.Resume.
func (l logState) positions() ([]tailer.Position, error) {
	var ps []tailer.Position
	for _, f := range l.Files {
		if f.Offset < 0 || f.FingerprintLen < 0 || f.EndLen < 0 {
			return nil, fmt.Errorf("negative offset, fingerprint length or end length")
		}
		id := tailer.FileID{Dev: f.Dev, Inode: f.Inode, FingerprintLen: f.FingerprintLen}
		if f.Fingerprint != "" || f.FingerprintLen != 0 {
			fp, err := strconv.ParseUint(f.Fingerprint, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("fingerprint %q: %w", f.Fingerprint, err)
			}
			id.Fingerprint = fp
		}
		p := tailer.Position{File: id, Offset: f.Offset, EndLen: f.EndLen}
		if f.End != "" || f.EndLen != 0 {
			end, err := strconv.ParseUint(f.End, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("end %q: %w", f.End, err)
			}
			p.End = end
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// logStateOf is the entry for a log read up to ps.
func logStateOf(path string, ps []tailer.Position) logState {
	l := logState{Path: path, Files: []fileState{}}
	for _, p := range ps {
		f := fileState{Dev: p.File.Dev, Inode: p.File.Inode, Offset: p.Offset}
		if p.File.FingerprintLen > 0 {
			f.Fingerprint = fmt.Sprintf("%016x", p.File.Fingerprint)
			f.FingerprintLen = p.File.FingerprintLen
		}
		if p.EndLen > 0 {
			f.End, f.EndLen = fmt.Sprintf("%016x", p.End), p.EndLen
		}
		l.Files = append(l.Files, f)
	}
	return l
}

// equal reports whether c and o say the same; nil is no checkpoint.
func (c *checkpoint) equal(o *checkpoint) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Version == o.Version && c.LastSeq == o.LastSeq &&
		slices.EqualFunc(c.Logs, o.Logs, func(a, b logState) bool {
			return a.Path == b.Path && slices.Equal(a.Files, b.Files)
		})
}

// saveState writes c to path atomically: a crash leaves the old checkpoint
// or the new one, never a torn or empty file. Its errors name path and
// the cause, never the temporary file, so that the same failure reads the
// same each time.
func saveState(path string, c *checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write state %s: create a file in %s: %w", path, dir, cause(err))
	}
	defer os.Remove(tmp.Name()) // gone already after a successful rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state %s: %w", path, cause(err))
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state %s: %w", path, cause(err))
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state %s: %w", path, cause(err))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state %s: %w", path, cause(err))
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, cause(err))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, cause(err))
	}
	return nil
}

// cause strips the file names from an error of package os: the caller
// names the files that matter.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
