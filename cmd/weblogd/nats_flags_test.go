package main

import (
	"io"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/fleet"
)

// The NATS flags reach feed.Config from the command line, the
// environment and a config file alike.
func TestNATSAuthFlags(t *testing.T) {
	want := fleet.Auth{CredsFile: "", NKeyFile: "", TokenFile: "", User: "weblogd", PasswordFile: "/run/secrets/nats-pw",
		CAFile: "/etc/nats/ca.pem", CertFile: "/etc/nats/client.pem", KeyFile: "/etc/nats/client.key"}
	conf := writeConfig(t, "subscribe = nats://nats:4222\nconsumer = edge-7\nnats-ca = /etc/nats/ca.pem\nnats-key = /etc/nats/client.key\n")
	o, err := parseFlags([]string{"--config", conf, "--nats-user", "weblogd", "--nats-cert", "/etc/nats/client.pem"},
		envOf("WEBLOGD_NATS_PASSWORD_FILE", "/run/secrets/nats-pw"), io.Discard)
	if err != nil {
		t.Fatalf("parseFlags()=%v", err)
	}
	c := o.config()
	if c.NATSAuth != want || c.Consumer != "edge-7" || c.Subscribe != "nats://nats:4222" {
		t.Errorf("config() NATSAuth %+v Consumer %q Subscribe %q, want %+v, edge-7, nats://nats:4222", c.NATSAuth, c.Consumer, c.Subscribe, want)
	}
	for flag, field := range map[string]func(fleet.Auth) string{
		"nats-creds":      func(a fleet.Auth) string { return a.CredsFile },
		"nats-nkey":       func(a fleet.Auth) string { return a.NKeyFile },
		"nats-token-file": func(a fleet.Auth) string { return a.TokenFile },
	} {
		env := "WEBLOGD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
		o, err := parseFlags(nil, envOf("WEBLOGD_PUBLISH", "nats://n:4222", "WEBLOGD_LOG", "/a.log", env, "/secret"), io.Discard)
		if err != nil {
			t.Fatalf("%s: parseFlags()=%v", env, err)
		}
		if got := field(o.config().NATSAuth); got != "/secret" {
			t.Errorf("%s: config() has %q, want /secret", env, got)
		}
	}
}

// What is wrong with the NATS flags is said with the flags' names.
func TestNATSFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--publish", "nats://host:port"}, "--publish: NATS URL"},
		{[]string{"--subscribe", "http://host:4222"}, `--subscribe: NATS URL "http://host:4222": scheme "http"`},
		{[]string{"--subscribe", "nats://u:hunter2@host:x"}, "--subscribe: NATS URL \"nats://host:x\""},
		{[]string{"--consumer", "edge-1"}, "--consumer is only for --subscribe"},
		{[]string{"--nats-token-file", "/t"}, "the --nats-* flags are only for --publish and --subscribe"},
		{[]string{"--publish", "nats://n:4222", "--nats-user", "u"}, "--nats-user needs --nats-password-file"},
		{[]string{"--publish", "nats://n:4222", "--nats-password-file", "/p"}, "--nats-password-file needs --nats-user"},
		{[]string{"--publish", "nats://n:4222", "--nats-cert", "/c"}, "--nats-cert needs --nats-key"},
		{[]string{"--publish", "nats://n:4222", "--nats-key", "/k"}, "--nats-key needs --nats-cert"},
		{[]string{"--publish", "nats://n:4222", "--nats-token-file", "/t", "--nats-nkey", "/n"}, "--nats-nkey and --nats-token-file: give one way"},
	} {
		_, err := parseFlags(append([]string{"--log", "/a.log"}, c.args...), envOf(), io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: parseFlags()=%v, want %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: the error shows the password: %v", c.args, err)
		}
	}
}
