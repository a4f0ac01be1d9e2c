package format

import (
	"testing"
	"time"
)

func TestDecimalDuration(t *testing.T) {
	for _, tc := range []struct {
		s    string
		unit time.Duration
		want time.Duration
		ok   bool
	}{
		{"0", time.Second, 0, true},
		{"0.000929675", time.Second, 929675, true},
		{"0.0009296759", time.Second, 929675, true}, // beyond nanoseconds: dropped
		{"46", time.Millisecond, 46 * time.Millisecond, true},
		{"1.5", time.Millisecond, 1500 * time.Microsecond, true},
		{"3164727", time.Nanosecond, 3164727, true},
		{"9.3e-05", time.Second, 93 * time.Microsecond, true},
		{"9223372036", time.Second, 9223372036 * time.Second, true},
		{"9223372037", time.Second, 0, false},
		{"-1", time.Second, 0, false},
		{"1.", time.Second, 0, false},
		{".5", time.Second, 0, false},
		{"", time.Second, 0, false},
		{"NaN", time.Second, 0, false},
		{"1e300", time.Second, 0, false},
	} {
		got, ok := decimalDuration(tc.s, tc.unit)
		if got != tc.want || ok != tc.ok {
			t.Errorf("decimalDuration(%q, %v) = %v, %v; want %v, %v", tc.s, tc.unit, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseISOTime(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want time.Time
		ok   bool
	}{
		{"2024-01-02T12:55:36Z", time.Date(2024, 1, 2, 12, 55, 36, 0, time.UTC), true},
		{"2024-01-02T12:55:36.123456789Z", time.Date(2024, 1, 2, 12, 55, 36, 123456789, time.UTC), true},
		{"2024-01-02T12:55:36.1234567891+01:00", time.Date(2024, 1, 2, 12, 55, 36, 123456789, time.FixedZone("", 3600)), true},
		{"2024-01-02 12:55:36.5-0930", time.Date(2024, 1, 2, 12, 55, 36, 5e8, time.FixedZone("", -(9*3600+1800))), true},
		{"2024-01-02T12:55:36", time.Date(2024, 1, 2, 12, 55, 36, 0, time.UTC), true},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2023-02-29T00:00:00Z", time.Time{}, false},
		{"2024-01-02T24:00:00Z", time.Time{}, false},
		{"2024-01-02T12:55:36.Z", time.Time{}, false},
		{"2024-01-02T12:55:36+2400", time.Time{}, false},
		{"2024-01-02T12:55:36 01:00", time.Time{}, false},
		{"2024-01-02", time.Time{}, false},
	} {
		got, ok := parseISOTime(tc.s)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseISOTime(%q) = %v, %v; want %v, %v", tc.s, got, ok, tc.want, tc.ok)
			continue
		}
		_, go1 := got.Zone()
		_, wo := tc.want.Zone()
		if go1 != wo {
			t.Errorf("parseISOTime(%q): offset %d, want %d", tc.s, go1, wo)
		}
	}
}
