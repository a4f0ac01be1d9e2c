package useragent

import (
	"testing"
	"unicode"
)

// foldLower must map every character that case folding matches with an
// ASCII letter to that letter; the two it knows are all Unicode has.
func TestFoldLowerCoversCaseFolding(t *testing.T) {
	for c := rune('A'); c <= 'z'; c++ {
		if !unicode.IsLetter(c) {
			continue
		}
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if got, want := foldLower(string(r)), string(unicode.ToLower(c)); got != want {
				t.Errorf("foldLower(%q) = %q; case folding matches it with %q", r, got, want)
			}
		}
	}
	if got := foldLower("Ab\xffé\u212Ax"); got != "ab\x00\x00kx" {
		t.Errorf("foldLower = %q", got)
	}
}
