// Package tailer follows one file and hands every complete line to its
// caller, with the file it came from and the byte offset just after it,
// like `tail -F`, without losing, repeating or reordering a line across
// rotations, truncations and restarts.
//
// It owns the following of the file: opening it at a start position,
// waiting for it to appear, rotation by rename or by copy and truncate,
// truncation in place, deletion and re-creation, holding back a
// half-written last line until its "\n" arrives, and cutting over-long
// lines to a bound (Line.Truncated) without holding them in memory. It
// knows nothing of the log format. Last reads the newest lines of a file
// backwards, for a backlog at startup, and says where following should
// begin so that nothing is missed or read twice.
//
// # How it follows
//
// Run reads the file itself: ReadAt with a 64 KiB buffer from exact
// offsets, never a buffered reader that would hold a whole line. Files
// are known by FileID: device, inode, and a fingerprint of the first line
// (filesystems reuse a deleted file's inode at once, often for its
// replacement). On every wake-up it:
//
//   - stats the path. When the path names another inode (logrotate's
//     rename and create, a delete and re-create, a rename over it) the old
//     file is not closed: nginx keeps writing to the renamed file until it
//     gets USR1, and Apache's workers until they finish. It is read on,
//     from its own descriptor, until it has not grown for RotateWait
//     (default 5 s, Fluent Bit's rotate_wait), then read to its end and
//     closed. The new file is read from its start. Rotated files are
//     drained before the lines of the new file are delivered: a chunk of
//     the new file is read, then every rotated file to its end, then the
//     chunk's lines go out, so lines one writer wrote to the old file
//     before the new one come first.
//   - checks, after each read and before delivering what it read, that
//     the file is no shorter than what was read of it, still has the end
//     of the last line delivered (up to 128 bytes, which each read takes
//     again) just before where reading goes on, and still starts with
//     its fingerprinted first line. Any of these failing means it was
//     truncated in place, even when it has since grown past the old
//     offset (copytruncate on a busy log, or a file written again while
//     the follower was busy). It is then read again from 0; first, a
//     copy of it in the same directory (the copytruncate copy, found by
//     the old fingerprint and line end) is read from the last delivered
//     line to its end, for what was written before the truncation and
//     not yet read.
//   - reads with rescanning: a partial last line of up to 16 KiB is read
//     again from its start with the next read, so a line written in
//     several writes (or over preallocated bytes) comes out whole, as
//     finally written. A longer line is scanned onwards without being
//     kept; when its "\n" arrives its first MaxLineBytes are read again
//     from the file and delivered, cut, with Truncated set. Memory per Run
//     is two read buffers and one line buffer of MaxLineBytes, however
//     long the lines or fast the growth.
//
// Wake-ups come from inotify: one instance shared by the process (the
// default limit is 128 instances per user), with a watch on the
// directory for the path's name and one per open file, added through
// /proc/self/fd so that it follows the inode through renames. A line
// appended to a quiet log is delivered well under a millisecond after
// its write. A poll every 250 ms backs it up, for writes inotify does
// not report (shared mappings, network filesystems, an overflowed event
// queue, a directory that was replaced); without inotify (another
// platform, no instance left) the poll alone drives reading.
//
// # FIFOs
//
// A path that is a FIFO (named pipe; nginx can log to one) when Run starts,
// or that becomes one while Run waits for the file, is read as a stream:
// every line written into it is delivered once, partial and over-long
// lines handled as for files, with no offsets (Line.File and Line.Offset
// are zero, Positions is empty) and so nothing skipped or resumed. It is
// opened without blocking, start-up and shutdown wait for no writer, and
// when the last writer closes, its partial last line is delivered and the
// next writer is waited for. A partial line at shutdown is lost.
//
// # Positions and restarts
//
// Positions says how far each open file was read: the file at the path
// and any rotated file still being drained. A line counts only once emit
// has returned for it, so a checkpoint of Positions never skips a line
// its caller has not stored. A Position names its file (FileID) and
// remembers a hash of the end of the last line read. Config.Resume takes
// them back: each file is found again at the path or, renamed, in the
// same directory (by inode, fingerprint and line end), and read on from
// its offset; a file at the path that is none of them was rotated in
// meanwhile and is read from its start. A file at the path with the saved
// inode but not the saved content (another first line, fewer bytes, or
// other bytes before the offset) was truncated in place, or the saved
// file was deleted and its inode given to a new one: it is read from its
// start, after the copy of the saved file if one is in the directory,
// and with a warning that the lines after the saved position are lost if
// none is. If nothing matches, the positions were for other files: Run
// logs a warning and starts at the end of the file.
//
// # Concurrency
//
// New starts nothing. Run owns every goroutine it causes: it calls emit from
// its own goroutine, one line at a time, in file order, and returns only
// after the files it opened are closed and its watches removed. emit blocks
// the reading of the file while it runs, so it should hand the line on
// quickly; the tailer never drops a line to keep up. State, Following,
// Problem, Current and Positions may be called from any goroutine at any
// time. Last is a plain
// function with no shared state.
//
// The inotify instance and the goroutine that reads its events are shared:
// the first Run to need them starts them, the last to return closes the
// instance and waits for the goroutine.
//
// At most one Run per path may be active in a process: two would deliver
// every line twice. A second Run on a path that is being followed returns
// ErrPathInUse. Once a Run has returned, the path may be followed again.
//
// Run fails only at start (the directory of the path is missing, the path
// is a directory or cannot be opened); after that, trouble is logged once
// and retried at every poll, and Problem names it while there is no file
// at the path to follow (permission denied is not a missing file). The
// file leaving the path and a file appearing there are logged at Info. It
// never exits the process.
//
// # Known limits
//
//   - A file that is truncated in place loses what was written to it after
//     the last read and before the truncation, unless a copy of it is in
//     the same directory. With copytruncate that copy exists, but lines
//     written between the copy and the truncation are in neither file:
//     logrotate's own race, which no reader can close (logrotate's man
//     page says so). Reading is live, so the window is what the writer
//     writes in the moment between the two.
//   - A rotated file is read until it has not grown for RotateWait. A
//     writer that writes to it again after a longer pause (nginx never
//     sent USR1, then a burst) loses those lines.
//   - A file truncated and written again to at least what was read, with
//     the same first line and the same 128 bytes before the old offset,
//     is taken for the file it was.
//   - A file truncated to a shorter size, not to 0, is read again from
//     its start: it cannot be told from one truncated to 0 and written
//     again, whose lines must not be skipped. The lines the truncation
//     kept are delivered again, and a line it cut is joined to the next
//     line written, as the file now holds them.
//   - On restart, a rotated file is looked for only in the directory of
//     the path and only uncompressed: with logrotate's compress without
//     delaycompress, the lines written to it after the saved position
//     while nothing followed it are lost (a warning says so).
//   - Positions that match no file at all (the state belongs to other
//     files, or the rotated file was deleted while nothing followed it)
//     start at the end of the file at the path: Run cannot tell which
//     lines of it are new.
//   - A partial last line of a rotated file is delivered as a line when
//     the file is closed; a partial line at the moment of a truncation is
//     lost with the truncation.
package tailer
