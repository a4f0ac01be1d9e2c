package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// stateVersion is written into the checkpoint so that a later format can
// tell an old file from a corrupt one.
const stateVersion = 1

// checkpoint is the --state file: where each log was read up to, and the
// last seq given out, so that a restart loses no line and reuses no seq.
type checkpoint struct {
	Version int         `json:"version"`
	LastSeq uint64      `json:"last_seq"`
	Files   []fileState `json:"files"`
}

// fileState identifies a log by device and inode, so that a checkpoint is
// never applied to another file that took the same name.
type fileState struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

// identity returns the device and inode of the file at path.
func identity(path string) (dev, ino uint64, size int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fi.Size(), errors.New("no inode on this platform")
	}
	return uint64(st.Dev), uint64(st.Ino), fi.Size(), nil
}

// loadState reads the checkpoint at path. A missing file is no checkpoint
// and no error.
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
	if c.Version != stateVersion {
		return nil, fmt.Errorf("read state %s: version %d, want %d", path, c.Version, stateVersion)
	}
	return &c, nil
}

// resumeOffset says where to resume path from the checkpoint: ok is false
// when the checkpoint has nothing that applies to the file there now.
func (c *checkpoint) resumeOffset(path string) (offset int64, ok bool) {
	if c == nil {
		return 0, false
	}
	dev, ino, size, err := identity(path)
	if err != nil {
		return 0, false
	}
	for _, f := range c.Files {
		if f.Path == path && f.Dev == dev && f.Inode == ino && f.Offset <= size {
			return f.Offset, true
		}
	}
	return 0, false
}

// saveState writes c to path atomically: a crash leaves the old checkpoint
// or the new one, never a torn or empty file.
func saveState(path string, c *checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone already after a successful rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory: %w", err)
	}
	return nil
}
