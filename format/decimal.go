package format

import (
	"math"
	"strconv"
	"time"
)

// decimalDuration reads a non-negative decimal number of units
// ("0.000929675" seconds, "15" milliseconds) exactly, to the nanosecond;
// further digits are dropped. The exponent form some writers use for
// small floats ("9.3e-05") goes through strconv.ParseFloat.
func decimalDuration(s string, unit time.Duration) (time.Duration, bool) {
	whole, frac, fracDigits, ok := splitDecimal(s)
	if !ok {
		return floatDuration(s, unit)
	}
	if whole > math.MaxInt64/int64(unit) {
		return 0, false
	}
	d := whole*int64(unit) + frac*int64(unit)/pow10[fracDigits]
	if d < 0 {
		return 0, false
	}
	return time.Duration(d), true
}

// floatDuration is decimalDuration for what splitDecimal does not read.
func floatDuration(s string, unit time.Duration) (time.Duration, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || f*float64(unit) >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(f*float64(unit) + 0.5), true
}

// unixSeconds reads seconds since the epoch with a fraction
// ("1646861401.5241024") exactly to the nanosecond, in UTC.
func unixSeconds(s string) (time.Time, bool) {
	whole, frac, fracDigits, ok := splitDecimal(s)
	if !ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f > 1<<40 {
			return time.Time{}, false
		}
		sec := math.Floor(f)
		return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), true
	}
	if whole > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(whole, frac*int64(time.Second)/pow10[fracDigits]).UTC(), true
}

// splitDecimal splits digits[.digits] into its whole part and at most
// nine digits of its fraction (frac / 10^fracDigits).
func splitDecimal(s string) (whole, frac int64, fracDigits int, ok bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		if whole > (math.MaxInt64-9)/10 {
			return 0, 0, 0, false
		}
		whole = whole*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return 0, 0, 0, false
	}
	if i == len(s) {
		return whole, 0, 0, true
	}
	if s[i] != '.' || i+1 == len(s) {
		return 0, 0, 0, false
	}
	for i++; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, 0, false
		}
		if fracDigits < 9 {
			frac = frac*10 + int64(s[i]-'0')
			fracDigits++
		}
	}
	return whole, frac, fracDigits, true
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}
