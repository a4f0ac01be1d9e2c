package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// helpFlag is one flag as --help shows it: its name and, unless it is a
// switch, the word for its value.
type helpFlag struct{ name, value string }

// helpGroup is a heading of --help and the flags under it, in order.
type helpGroup struct {
	title string
	flags []helpFlag
}

// serverHelp groups weblogd's flags by subject, in the order of the
// documentation. A flag missing here is still printed, under "Other", and
// fails TestHelpGroupsEveryFlag.
var serverHelp = []helpGroup{
	{"Following", []helpFlag{{"log", "PATH"}, {"format", "FORMAT"}, {"backfill", "N"}, {"max-line", "BYTES"}, {"rotate-wait", "DURATION"}, {"state", "PATH"}}},
	{"Statistics", []helpFlag{{"history", "DURATION"}, {"stats-window", "DURATION"}, {"stats-detail", "SIZE"}, {"geoip", "FILE"}}},
	{"Other ways in", []helpFlag{{"syslog", "URL"}, {"max-sources", "N"}, {"syslog-max-conns", "N"}, {"syslog-idle-timeout", "DURATION"}}},
	{"Streams and HTTP", []helpFlag{{"http", "ADDR"}, {"tcp", "ADDR"}, {"tick", "DURATION"}, {"ring", "N"}, {"base-path", "PREFIX"},
		{"allow-origin", "ORIGIN"}, {"allow-host", "NAME"}}},
	{"Limits", []helpFlag{{"queue", "N"}, {"write-timeout", "DURATION"}, {"slow-timeout", "DURATION"}, {"max-subscribers", "N"},
		{"max-subscribers-per-ip", "N"}, {"max-subscribers-per-token", "N"}, {"trusted-proxy", "CIDR"},
		{"ingest-requests-per-token", "N"}, {"ingest-rate-per-token", "N"}, {"ingest-idle-timeout", "DURATION"}}},
	{"Security", []helpFlag{{"token-file", "FILE"}, {"auth-metrics", ""}, {"session-lifetime", "DURATION"}, {"admin-token-file", "FILE"}, {"ingest-token-file", "FILE"}}},
	{"Redaction", []helpFlag{{"redact", "OPTION"}, {"redact-key-file", "FILE"}}},
	{"Fleet", []helpFlag{{"publish", "URL"}, {"subscribe", "URL"}, {"node", "NAME"}, {"consumer", "NAME"}, {"nats-creds", "FILE"},
		{"nats-nkey", "FILE"}, {"nats-token-file", "FILE"}, {"nats-user", "NAME"}, {"nats-password-file", "FILE"}, {"nats-ca", "FILE"},
		{"nats-cert", "FILE"}, {"nats-key", "FILE"}}},
	{"TLS", []helpFlag{{"tls-cert", "FILE"}, {"tls-key", "FILE"}}},
	{"Logging and process", []helpFlag{{"log-level", "LEVEL"}, {"log-format", "FORMAT"}, {"shutdown-timeout", "DURATION"},
		{"config", "FILE"}, {"version", ""}}},
	{"Demo", []helpFlag{{"demo", ""}, {"demo-rate", "N"}}},
}

// printFlags writes the flags of fs under the groups' headings, as the
// documentation writes them: "--name VALUE", then the help indented, with
// the default as the program takes it. Flags in no group come last.
func printFlags(w io.Writer, fs *flag.FlagSet, groups []helpGroup) {
	listed := map[string]bool{}
	for _, g := range groups {
		fmt.Fprintf(w, "%s:\n", g.title)
		for _, hf := range g.flags {
			if f := fs.Lookup(hf.name); f != nil {
				listed[f.Name] = true
				printFlag(w, f, hf.value)
			}
		}
		fmt.Fprintln(w)
	}
	var other []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] {
			other = append(other, f)
		}
	})
	if len(other) > 0 {
		fmt.Fprintln(w, "Other:")
		for _, f := range other {
			printFlag(w, f, "VALUE")
		}
		fmt.Fprintln(w)
	}
}

func printFlag(w io.Writer, f *flag.Flag, value string) {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		value = ""
	}
	line := "  --" + f.Name
	if value != "" {
		line += " " + value
	}
	words := strings.Fields(f.Usage)
	if d := helpDefault(f); d != "" {
		words = append(words, "(default "+d+")") // one word: never split
	}
	fmt.Fprintln(w, line)
	for _, l := range wrap(words, 6, 80) {
		fmt.Fprintln(w, l)
	}
}

// helpDefault is f's default written as the flag takes it, or "" when it
// has none worth saying (an empty string, false, an empty list).
func helpDefault(f *flag.Flag) string {
	d := f.DefValue
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(*slog.Level); ok {
			return strings.ToLower(d) // a level prints as INFO; the docs write info
		}
	}
	if dur, err := time.ParseDuration(d); err == nil && d == dur.String() {
		// 1h0m0s as 1h: the same duration, as a person writes it.
		for _, zero := range []string{"0s", "0m"} {
			if strings.HasSuffix(d, "m"+zero) || strings.HasSuffix(d, "h"+zero) {
				d = strings.TrimSuffix(d, zero)
			}
		}
	}
	if d == "" || d == "false" {
		return ""
	}
	return d
}

// wrap puts words on lines of at most width columns where it can, each
// indented by indent spaces. A word beginning with "-" stays on the line of
// the word before it, so that no line of help reads as a flag's own line
// ("  --name").
func wrap(words []string, indent, width int) []string {
	var units []string
	for _, w := range words {
		if n := len(units); n > 0 && strings.HasPrefix(w, "-") {
			units[n-1] += " " + w
			continue
		}
		units = append(units, w)
	}
	pad := strings.Repeat(" ", indent)
	var lines []string
	line := ""
	for _, u := range units {
		if line != "" && indent+len(line)+1+len(u) > width {
			lines = append(lines, pad+line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += u
	}
	return append(lines, pad+line)
}
