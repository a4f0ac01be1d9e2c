package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// notInFile are the flags that are no settings: a config file naming one
// is refused rather than silently obeyed or ignored.
var notInFile = map[string]bool{"config": true, "version": true}

// applyConfigFile sets, from the file at path, every flag not set already
// (given says which are: on the command line or in the environment).
//
// The format needs no parser library and reads like a flag list: one
// "key = value" per line, the key a long flag's name; blank lines and
// lines starting with # are skipped; the value is the rest of the line
// with the spaces around it trimmed (so "http =" is empty and turns the
// HTTP server off), or a double-quoted Go string for one that must keep
// its spaces. log, allow-origin, allow-host, trusted-proxy and redact may
// repeat, one value per line; any
// other key set twice is a mistake, and so is an unknown key.
func applyConfigFile(fs *flag.FlagSet, path string, given map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read the config file: %w", err)
	}
	defer f.Close()
	first := map[string]int{} // the line each key was first set on
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte-order mark some editors write
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", path, n, fmt.Sprintf(format, a...))
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return at("want key = value, got %q", line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		fl := fs.Lookup(key)
		if fl == nil || notInFile[key] {
			return at("unknown key %q (keys are the long flags' names, without dashes: see weblogd --help)", key)
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return at("value of %s: bad quoted string %s", key, value)
			}
			value = uq
		}
		_, repeatable := fl.Value.(*listFlag)
		if was, dup := first[key]; !dup {
			first[key] = n
		} else if !repeatable {
			return at("%s is set again (first on line %d); only log, allow-origin, allow-host, trusted-proxy and redact repeat", key, was)
		}
		if given[key] {
			continue // the command line or the environment said otherwise
		}
		if err := fs.Set(key, value); err != nil {
			return at("invalid value %q for %s: %v", value, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the config file %s: %w", path, err)
	}
	return nil
}
