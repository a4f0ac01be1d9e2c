package format

import "time"

// parseISOTime reads the ISO 8601 times that JSON and cloud logs write:
// YYYY-MM-DDThh:mm:ssZ, with a fraction of any length, a zone of Z,
// ±hh:mm or ±hhmm, or no zone (read as UTC); a space may stand for the
// T. It is hand-written for the same reasons as parseTime: time.Parse is
// slower and allocates the zone of every line that is not UTC.
func parseISOTime(s string) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return time.Time{}, false
	}
	date, ok := parseISODate(s[:10])
	if !ok {
		return time.Time{}, false
	}
	t, rest, ok := parseClock(date, s[11:])
	if !ok {
		return time.Time{}, false
	}
	off := 0
	switch {
	case rest == "" || rest == "Z":
	case len(rest) == 6 && rest[3] == ':' || len(rest) == 5:
		oh, ok1 := atoi2(rest[1:3])
		om, ok2 := atoi2(rest[len(rest)-2:])
		if !ok1 || !ok2 || oh > maxOffsetHours || om > 59 {
			return time.Time{}, false
		}
		off = oh*60 + om
		switch rest[0] {
		case '+':
		case '-':
			off = -off
		default:
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	return time.Date(t.year, t.month, t.day, t.hour, t.min, t.sec, t.nsec, zone(off)), true
}

// civil is a date and time of day without a zone.
type civil struct {
	year           int
	month          time.Month
	day            int
	hour, min, sec int
	nsec           int
}

// parseISODate reads a date written YYYY-MM-DD.
func parseISODate(s string) (civil, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return civil{}, false
	}
	y1, ok1 := atoi2(s[0:2])
	y2, ok2 := atoi2(s[2:4])
	m, ok3 := atoi2(s[5:7])
	d, ok4 := atoi2(s[8:10])
	year := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), year) {
		return civil{}, false
	}
	return civil{year: year, month: time.Month(m), day: d}, true
}

// parseClock reads "15:04:05" and an optional fraction into c, and
// returns what follows.
func parseClock(c civil, s string) (civil, string, bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return civil{}, "", false
	}
	h, ok1 := atoi2(s[0:2])
	m, ok2 := atoi2(s[3:5])
	sec, ok3 := atoi2(s[6:8])
	if !(ok1 && ok2 && ok3) || h > 23 || m > 59 || sec > 59 {
		return civil{}, "", false
	}
	c.hour, c.min, c.sec = h, m, sec
	i := 8
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			if digits < 9 {
				c.nsec = c.nsec*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		if digits == 0 {
			return civil{}, "", false
		}
		for ; digits < 9; digits++ {
			c.nsec *= 10
		}
	}
	return c, s[i:], true
}
