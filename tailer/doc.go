// Package tailer follows one file and hands every complete line to its
// caller, with the byte offset just after it, like `tail -F`.
//
// It owns the following of the file: opening it at a start offset, waiting
// for it to appear, reopening it when it is deleted, replaced or truncated,
// holding back a half-written last line until its "\n" arrives, and cutting
// over-long lines to a bound (Line.Truncated). It knows nothing of the log
// format. Last reads the newest lines of a file backwards, for a backlog at
// startup, and says where following should begin so that nothing is missed
// or read twice.
//
// The following is done by github.com/nxadm/tail v1.4.11 with Follow,
// ReOpen and CompleteLines set, inotify rather than polling, and no rate
// limiter or line-size split (both lose or mangle data). Around it this
// package adds what the library lacks:
//
//   - Offsets are the library's own, taken in its goroutine just after it
//     read the line (Tell from any other goroutine races with a reopen).
//   - Lines are cut without splitting a UTF-8 sequence, and flagged.
//   - A dead library becomes an error from Run, and Run does not return
//     until the library has let go of the file, so the path can be
//     followed again at once. Cleanup is never called: it unbalances the
//     library's process-wide watch counts, after which the same path is
//     never followed again in this process (nxadm/tail issue #18).
//   - A stall check. The library starts watching a file only after it has
//     read it to the end, and does not look again, so a line written in
//     between (just after Run starts, or after a reopen) waits for the next
//     write, forever on a quiet log. And a file replaced by renaming a
//     larger one over it looks to the library like an append to the file
//     it has open, which it then follows forever. While no line arrives,
//     Run looks every stallCheckInterval; when the file at the path holds a
//     complete line that was not delivered, twice in a row, it restarts the
//     library at that line.
//   - A re-read guard. After a spurious "deleted" or "truncated" event
//     (moving the file away and back; a stale event for an old inode,
//     which the library routes by file name) the library reads the same
//     file again from its start. Lines it delivers a second time are
//     dropped.
//
// Both guards tell files apart by device, inode and the first bytes
// already delivered (up to fingerprintBytes), because filesystems reuse a
// deleted file's inode at once, often for its replacement.
//
// # Concurrency
//
// New starts nothing. Run owns every goroutine it causes: it calls emit from
// its own goroutine, one line at a time, in file order, and returns only
// after the library's goroutines have stopped. emit blocks the reading of the
// file while it runs (the library's channel is unbuffered), so it should hand
// the line on quickly; the tailer never drops a line to keep up. State and
// Following may be called from any goroutine at any time. Last is a plain
// function with no shared state.
//
// At most one Run per path may be active in a process: the library keeps one
// process-wide inotify tracker keyed by file name, and two followers of one
// name would take each other's events. A second Run on a path that is being
// followed returns ErrPathInUse. Once a Run has returned, the path may be
// followed again.
//
// # Known limits
//
// These come from nxadm/tail and go away only by owning the follow loop
// (open, fstat, a bounded read loop, stat polling of the path, keeping the
// old descriptor until EOF), which is the planned replacement:
//
//   - The library calls os.Exit(1) when a stat of the followed path fails
//     with anything but "not exist" (for example permission denied on its
//     directory; watch/inotify.go), and when it cannot create an inotify
//     watcher (too many inotify instances). No error reaches Run first.
//   - Rotation by rename loses the lines written to the old file after the
//     rename (the library reopens at once and never drains the old
//     descriptor). Offsets always refer to the file a line was read from,
//     so after a reopen they start again from the new file's start.
//     Lines can therefore be lost across a rotation.
//   - A truncation is missed when the file grows past the old offset before
//     the library looks; it then reads on from the middle of the file.
//   - A missed change is delivered up to about stallStrikes ×
//     stallCheckInterval late (the stall check), and not at all for a line
//     longer than stallScanBytes.
//   - The fingerprint is the first bytes of the file: two files on the same
//     recycled inode that start with the same delivered bytes are taken for
//     one, and the re-read guard would then drop the new file's first lines.
//     Access-log lines start with a client and a timestamp, so in practice
//     this needs a very short first line.
//   - The library holds a whole line in memory before this package can cut
//     it, so MaxLineBytes bounds what is delivered, not what is read.
//   - With CompleteLines the library turns every read error into io.EOF
//     (tail.go readLine), so a file that cannot be read once open (an I/O
//     error, a directory created at the path) makes Run wait quietly
//     instead of failing. Run checks the file it starts with; later
//     replacements are not checked.
//   - The directory of the path must exist: when the file is missing the
//     library watches the directory, and a missing directory ends Run with
//     an error.
//   - If the file is replaced between Run's check of it and the library's
//     first open, Config.Offset is applied to the replacement.
//   - A file deleted just after it was reopened, before the library watches
//     it again, ends Run with an error ("no such file or directory"); the
//     caller may start a new Tailer.
//   - The library's watch package logs its own rare errors to stderr.
package tailer
