package format

import (
	"fmt"
	"time"
)

// timeParts is a time that a line gives in strftime pieces, as Apache's
// %{format}t writes it: "[%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t]".
type timeParts struct {
	have                                  uint8 // which of the p* below the line gave
	year, month, day, hour, min, sec, off int
	nsec                                  int
	pm                                    int8 // 1 AM, 2 PM
	hour12                                bool
}

const (
	pYear uint8 = 1 << iota
	pMonth
	pDay
	pHour
	pMin
	pSec
	pNsec
	pOff
)

// set reads one piece; false if v is not one.
func (tp *timeParts) set(k kind, v string) bool {
	n, digits := atoiN(v)
	switch k {
	case kYear:
		tp.year, tp.have = n, tp.have|pYear
		return digits
	case kYear2:
		// POSIX: 69-99 are 1969-1999, 00-68 are 2000-2068.
		if n < 69 {
			n += 2000
		} else {
			n += 1900
		}
		tp.year, tp.have = n, tp.have|pYear
		return digits
	case kMonth:
		tp.month, tp.have = n, tp.have|pMonth
		return digits && n >= 1 && n <= 12
	case kMonthName:
		if len(v) < 3 {
			return false
		}
		m := parseMonth(v[:3])
		if m == 0 || len(v) > 3 && v != m.String() {
			return false
		}
		tp.month, tp.have = int(m), tp.have|pMonth
	case kDay:
		if len(v) == 2 && v[0] == ' ' {
			n, digits = atoiN(v[1:])
		}
		tp.day, tp.have = n, tp.have|pDay
		return digits && n >= 1 && n <= 31
	case kHour, kHour12:
		if len(v) == 2 && v[0] == ' ' {
			n, digits = atoiN(v[1:])
		}
		tp.hour, tp.have, tp.hour12 = n, tp.have|pHour, k == kHour12
		if k == kHour12 {
			return digits && n >= 1 && n <= 12
		}
		return digits && n <= 23
	case kAMPM:
		switch v {
		case "AM", "am":
			tp.pm = 1
		case "PM", "pm":
			tp.pm = 2
		default:
			return false
		}
	case kMinute:
		tp.min, tp.have = n, tp.have|pMin
		return digits && n <= 59
	case kSecond:
		tp.sec, tp.have = n, tp.have|pSec
		return digits && n <= 60
	case kFracMS, kFracUS:
		unit := 1000
		if k == kFracMS {
			unit = 1000000
		}
		tp.nsec, tp.have = n*unit, tp.have|pNsec
		return digits
	case kZone:
		if len(v) != 5 || (v[0] != '+' && v[0] != '-') {
			return false
		}
		oh, ok1 := atoi2(v[1:3])
		om, ok2 := atoi2(v[3:5])
		if !ok1 || !ok2 || oh > maxOffsetHours || om > 59 {
			return false
		}
		tp.off = oh*60 + om
		if v[0] == '-' {
			tp.off = -tp.off
		}
		tp.have |= pOff
	}
	return true
}

// build puts the pieces together over whole, the whole time the line gave
// if any. Without a date there is no time; without an offset, the time
// is in weblogd's own zone, as the server that wrote it most likely
// shares it.
func (tp *timeParts) build(whole time.Time) (time.Time, bool) {
	year, month, day := 0, time.Month(0), 0
	hour, mi, sec, nsec := 0, 0, 0, 0
	loc := time.Local
	if !whole.IsZero() {
		year, month, day = whole.Date()
		hour, mi, sec = whole.Clock()
		nsec = whole.Nanosecond()
		loc = whole.Location()
	} else if tp.have&(pYear|pMonth|pDay) != pYear|pMonth|pDay {
		return time.Time{}, true
	}
	if tp.have&pYear != 0 {
		year = tp.year
	}
	if tp.have&pMonth != 0 {
		month = time.Month(tp.month)
	}
	if tp.have&pDay != 0 {
		day = tp.day
	}
	if tp.have&pHour != 0 {
		hour = tp.hour
		if tp.hour12 {
			hour %= 12
			if tp.pm == 2 {
				hour += 12
			}
		}
	}
	if tp.have&pMin != 0 {
		mi = tp.min
	}
	if tp.have&pSec != 0 {
		sec = tp.sec
	}
	if tp.have&pNsec != 0 {
		nsec = tp.nsec
	}
	if tp.have&pOff != 0 {
		loc = zone(tp.off)
	}
	if day > daysIn(month, year) {
		return time.Time{}, false
	}
	return time.Date(year, month, day, hour, mi, sec, nsec, loc), true
}

// atoiN parses up to 9 decimal digits.
func atoiN(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int(d)
	}
	return n, true
}

// strftimes are the composite conversions, in the pieces they stand for.
var strftimes = map[byte]string{
	'T': "%H:%M:%S",
	'D': "%m/%d/%y",
	'x': "%m/%d/%y",
	'X': "%H:%M:%S",
	'F': "%Y-%m-%d",
	'R': "%H:%M",
	'r': "%I:%M:%S %p",
	'c': "%a %b %e %H:%M:%S %Y",
	'h': "%b",
	'n': "\n",
	't': "\t",
	'%': "%",
}

// strftime adds the pieces of an Apache %{format}t time, at column col
// of the user's string, to b.
func (b *builder) strftime(f string, col int, label string) error {
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.literal(f[i : i+1])
			continue
		}
		i++
		if i == len(f) {
			return fmt.Errorf("column %d: %s ends in %%", col, label)
		}
		c = f[i]
		if s, ok := strftimes[c]; ok {
			if c == '%' || c == 'n' || c == 't' {
				b.literal(s)
			} else if err := b.strftime(s, col, label); err != nil {
				return err
			}
			continue
		}
		sl := slot{label: label, col: col, name: "time", esc: escBackslash}
		switch c {
		case 'Y':
			sl.kind, sl.width = kYear, 4
		case 'y':
			sl.kind, sl.width = kYear2, 2
		case 'm':
			sl.kind, sl.width = kMonth, 2
		case 'b':
			sl.kind, sl.width = kMonthName, 3
		case 'B':
			sl.kind, sl.class = kMonthName, cLetters
		case 'd', 'e':
			sl.kind, sl.width = kDay, 2
		case 'H', 'k':
			sl.kind, sl.width = kHour, 2
		case 'I', 'l':
			sl.kind, sl.width = kHour12, 2
		case 'p':
			sl.kind, sl.width = kAMPM, 2
		case 'M':
			sl.kind, sl.width = kMinute, 2
		case 'S':
			sl.kind, sl.width = kSecond, 2
		case 'z':
			sl.kind, sl.width = kZone, 5
		case 's':
			sl.kind, sl.class = kMsec, cDigits
		case 'a':
			sl.kind, sl.width = kSkip, 3
		case 'A', 'Z':
			sl.kind, sl.class = kSkip, cLetters
		case 'j':
			sl.kind, sl.width = kSkip, 3
		case 'u', 'w':
			sl.kind, sl.width = kSkip, 1
		default:
			return fmt.Errorf("column %d: %s: strftime %%%c is not supported", col, label, c)
		}
		if err := b.add(sl); err != nil {
			return err
		}
	}
	return nil
}
