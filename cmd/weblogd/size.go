package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a number of bytes, written as a count or with a KiB, MiB or
// GiB suffix (64MiB).
type sizeFlag int64

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

func (s *sizeFlag) String() string {
	for _, u := range sizeUnits {
		if n := int64(*s); n != 0 && n%(1<<u.shift) == 0 {
			if u.shift == 0 {
				return strconv.FormatInt(n, 10)
			}
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return "0"
}

func (s *sizeFlag) Set(v string) error {
	num, shift := strings.TrimSpace(v), uint(0)
	for _, u := range sizeUnits {
		if t, ok := strings.CutSuffix(num, u.suffix); ok {
			num, shift = strings.TrimSpace(t), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return fmt.Errorf("want a size in bytes, 0 or more, optionally with a KiB, MiB or GiB suffix (64MiB)")
	}
	*s = sizeFlag(n << shift)
	return nil
}
