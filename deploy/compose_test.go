package deploy_test

// The checks of compose.yaml and nats/: the file's structure (parsed by a
// real YAML parser, PyYAML, as in cmd/weblogd's checks of the Kubernetes
// manifests; the NATS configs by nats-server's own parser), and the same
// topology started for real on loopback: three nats-server processes
// clustered from the configs in nats/, the stream from nats/stream.json,
// two weblogd binaries publishing logs and two edges, each run with its
// command line from compose.yaml. Only ports and paths are changed, by
// the rewrites below, and each must apply exactly as often as expected,
// so that a change to the files that the harness does not follow fails
// here instead of going untested. No Docker engine is needed.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/fleet"
)

// natsArgsEnv, set, makes the test binary a nats-server with these
// arguments (space-separated): the harness's NATS servers are this binary
// run again, so that they cost no build of their own.
const natsArgsEnv = "WEBLOGD_TEST_NATS_SERVER_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(natsArgsEnv); args != "" {
		runNATSServer(strings.Fields(args))
		return
	}
	os.Exit(m.Run())
}

// runNATSServer is nats-server's main: the same options, logger and
// signal handling (SIGTERM shuts down and exits).
func runNATSServer(args []string) {
	fs := flag.NewFlagSet("nats-server", flag.ExitOnError)
	opts, err := server.ConfigureOptions(fs, args, server.PrintServerAndExit, fs.Usage, server.PrintTLSHelpAndDie)
	if err != nil {
		server.PrintAndDie("nats-server: " + err.Error())
	}
	s, err := server.NewServer(opts)
	if err != nil {
		server.PrintAndDie("nats-server: " + err.Error())
	}
	s.ConfigureLogger()
	if err := server.Run(s); err != nil {
		server.PrintAndDie(err.Error())
	}
	s.WaitForShutdown()
}

// compose is the part of a compose file these tests read.
type compose struct {
	Services map[string]service `json:"services"`
	Volumes  map[string]any     `json:"volumes"`
}

type service struct {
	Image string `json:"image"`
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []string          `json:"ports"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	ReadOnly    bool `json:"read_only"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
}

// mount is one entry of a service's volumes: a named volume or a file of
// this directory, on target.
type mount struct {
	source, target string
	readOnly       bool
}

func (s service) mounts() []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			parts = append([]string{""}, parts...) // an anonymous volume
		}
		out = append(out, mount{source: parts[0], target: parts[1], readOnly: len(parts) > 2 && parts[2] == "ro"})
	}
	return out
}

// flag returns the value of --name=VALUE in the service's command.
func (s service) flag(name string) string {
	for _, a := range s.Command {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// loadCompose parses compose.yaml with PyYAML (Debian's python3-yaml,
// which .ci/run installs), merge keys (<<) resolved.
func loadCompose(t testing.TB) compose {
	t.Helper()
	const script = `import sys, json, yaml
json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)`
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import yaml").Run() != nil {
			continue
		}
		var stderr bytes.Buffer
		cmd := exec.Command(py, "-c", script, "compose.yaml")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("compose.yaml does not parse: %v\n%s", err, stderr.String())
		}
		var c compose
		if err := json.Unmarshal(out, &c); err != nil {
			t.Fatalf("compose.yaml: %v", err)
		}
		return c
	}
	// One line that names the package; in CI, where .ci/run installs it, a failure.
	if os.Getenv("CI") != "" {
		t.Fatal("PyYAML not installed; CI must install Debian's python3-yaml (.ci/run does)")
	}
	t.Skip("PyYAML not installed: apt-get install python3-yaml")
	return compose{}
}

// The topology's names: the tests below check the file has exactly these.
var (
	natsServers = []string{"nats-1", "nats-2", "nats-3"}
	webServers  = map[string]string{"weblogd-1": "web-1", "weblogd-2": "web-2"} // publisher -> its web server
	edges       = []string{"edge-1", "edge-2"}
)

// natsURLs is what every weblogd must be given: all three servers, so
// that it connects (and reconnects) to whichever is up.
const natsURLs = "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"

// natsModuleVersion is the nats-server release go.mod requires, without
// its v: the one these tests run.
func natsModuleVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod does not require github.com/nats-io/nats-server/v2")
	}
	return string(m[1])
}

// TestComposeFile checks what compose.yaml says: three NATS servers from
// the configs in nats/ with a volume each, a stream created with three
// replicas before any weblogd starts, two web servers each with a weblogd
// that follows its log from a shared volume and publishes to all three,
// two edges with names of their own, every weblogd from the image of
// deploy/Dockerfile, volumes declared, no host port twice.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"edge-1", "edge-2", "nats-1", "nats-2", "nats-3", "nats-init", "web-1", "web-2", "weblogd-1", "weblogd-2"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	used := map[string]bool{} // named volumes
	for name, s := range c.Services {
		for _, m := range s.mounts() {
			if strings.HasPrefix(m.source, ".") {
				if _, err := os.Stat(m.source); err != nil {
					t.Errorf("%s mounts %s: %v", name, m.source, err)
				}
				continue
			}
			used[m.source] = true
			if _, ok := c.Volumes[m.source]; !ok {
				t.Errorf("%s mounts volume %s, which the file does not declare", name, m.source)
			}
		}
	}
	for v := range c.Volumes {
		if !used[v] {
			t.Errorf("volume %s is declared and not used", v)
		}
	}
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			host, _, _ := strings.Cut(p, ":")
			if other, dup := hostPorts[host]; dup {
				t.Errorf("host port %s is published by %s and %s", host, other, name)
			}
			hostPorts[host] = name
		}
	}

	// NATS: the release the tests run, each server with its config and a
	// store on a volume of its own, healthy once JetStream is up.
	cfg := streamConfig(t)
	image := "nats:" + natsModuleVersion(t) + "-alpine"
	for i, name := range natsServers {
		s := c.Services[name]
		if s.Image != image {
			t.Errorf("%s: image %q, want %q (go.mod's nats-server)", name, s.Image, image)
		}
		conf := fmt.Sprintf("./nats/%s.conf", name)
		if !slices.Equal(s.Command, []string{"--config", "/etc/nats/nats.conf"}) ||
			!slices.Contains(s.Volumes, conf+":/etc/nats/nats.conf:ro") {
			t.Errorf("%s: command %v, volumes %v: want it run with %s", name, s.Command, s.Volumes, conf)
		}
		opts, err := server.ProcessConfigFile(conf)
		if err != nil {
			t.Fatalf("%s: %v", conf, err)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.String())
		}
		if opts.ServerName != name || opts.Port != 4222 || opts.HTTPPort != 8222 || !opts.JetStream ||
			opts.Cluster.Name != "weblogd" || opts.Cluster.Port != 6222 ||
			!slices.Equal(routes, []string{"nats-route://nats-1:6222", "nats-route://nats-2:6222", "nats-route://nats-3:6222"}) {
			t.Errorf("%s: server %q port %d http %d jetstream %v cluster %q on %d routes %v; want %s on 4222 and 8222, JetStream, cluster weblogd on 6222 with routes to all three",
				conf, opts.ServerName, opts.Port, opts.HTTPPort, opts.JetStream, opts.Cluster.Name, opts.Cluster.Port, routes, name)
		}
		if opts.JetStreamMaxStore < cfg.MaxBytes {
			t.Errorf("%s: max_file_store %d, want room for the stream's max_bytes %d", conf, opts.JetStreamMaxStore, cfg.MaxBytes)
		}
		store := ""
		for _, m := range s.mounts() {
			if m.source == fmt.Sprintf("nats-%d-data", i+1) && !m.readOnly && strings.HasPrefix(opts.StoreDir, m.target+"/") {
				store = m.source
			}
		}
		if store == "" {
			t.Errorf("%s: the JetStream store %s is not on the server's own volume (%v)", name, opts.StoreDir, s.Volumes)
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), ":8222/healthz") {
			t.Errorf("%s: health check %v, want /healthz of its monitoring port", name, s.Healthcheck)
		}
	}

	// The three configs are one but for the server's name.
	one, err := os.ReadFile("nats/nats-1.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range natsServers[1:] {
		b, err := os.ReadFile("nats/" + name + ".conf")
		if err != nil {
			t.Fatal(err)
		}
		want := strings.NewReplacer("# nats-1 of", "# "+name+" of", "server_name: nats-1", "server_name: "+name).Replace(string(one))
		if string(b) != want {
			t.Errorf("nats/%s.conf differs from nats-1.conf in more than the server's name", name)
		}
	}

	// The stream: created from nats/stream.json once all three are
	// healthy, as the publishers would create it but replicated and
	// bounded.
	if cfg.Name != fleet.DefaultStream || !slices.Equal(cfg.Subjects, []string{fleet.DefaultPrefix + ".>"}) ||
		cfg.Storage != jetstream.FileStorage || cfg.Replicas != 3 || cfg.Retention != jetstream.LimitsPolicy ||
		cfg.Discard != jetstream.DiscardOld || cfg.MaxAge <= 0 || cfg.MaxBytes <= 0 || cfg.Compression != jetstream.S2Compression ||
		// A publisher's republish after a restart is dropped within this
		// window: fleet.PublisherConfig's default for the streams it makes.
		cfg.Duplicates != 10*time.Minute {
		t.Errorf("nats/stream.json: %+v; want stream %s on %s.>, file storage, 3 replicas, old records discarded at a max age and size, s2 compression, a 10 min duplicate window",
			cfg, fleet.DefaultStream, fleet.DefaultPrefix)
	}
	setup := c.Services["nats-init"]
	for _, n := range natsServers {
		if setup.DependsOn[n].Condition != "service_healthy" {
			t.Errorf("nats-init starts before %s is healthy: %v", n, setup.DependsOn)
		}
	}
	script := strings.Join(setup.Command, " ")
	// The script as the shell sees it ($$ is Compose's escape of $) is
	// valid sh.
	if out, err := exec.Command("sh", "-n", "-c", strings.ReplaceAll(script, "$$", "$")).CombinedOutput(); err != nil {
		t.Errorf("nats-init's script: %v\n%s", err, out)
	}
	if !slices.Contains(setup.Volumes, "./nats/stream.json:/etc/nats/stream.json:ro") ||
		!strings.Contains(script, "nats stream add --config /etc/nats/stream.json") ||
		setup.Environment["NATS_URL"] != natsURLs {
		t.Errorf("nats-init: volumes %v, NATS_URL %q, command %q: want the stream added from nats/stream.json on all three servers",
			setup.Volumes, setup.Environment["NATS_URL"], script)
	}

	// Every weblogd: the image of deploy/Dockerfile, a read-only root,
	// started once the stream exists.
	var weblogds []string
	for p := range webServers {
		weblogds = append(weblogds, p)
	}
	weblogds = append(weblogds, edges...)
	for _, name := range weblogds {
		s := c.Services[name]
		if s.Image != "weblogd:local" || s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" ||
			!s.ReadOnly || s.DependsOn["nats-init"].Condition != "service_completed_successfully" {
			t.Errorf("%s: image %q build %+v read-only %v depends on %v; want weblogd:local built from deploy/Dockerfile, read-only, after nats-init",
				name, s.Image, s.Build, s.ReadOnly, s.DependsOn)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build context %s: %v", name, s.Build.Context, err)
			}
		}
		if st := s.flag("state"); !onMount(s, st, false) {
			t.Errorf("%s: --state=%q is not on a writable volume", name, st)
		}
	}
	// Publishers: each follows its web server's log, from a volume both
	// mount (weblogd read-only), where nginx's config writes it.
	nodes := map[string]bool{}
	nginxLog := nginxAccessLog(t)
	for pub, web := range webServers {
		s, w := c.Services[pub], c.Services[web]
		log := s.flag("log")
		if s.flag("publish") != natsURLs || s.flag("subscribe") != "" {
			t.Errorf("%s: --publish=%q, want %s", pub, s.flag("publish"), natsURLs)
		}
		if log != nginxLog || !onMount(s, log, true) {
			t.Errorf("%s: --log=%q, want nginx's %s on a volume mounted read-only", pub, log, nginxLog)
		}
		shared := false
		for _, m := range s.mounts() {
			for _, wm := range w.mounts() {
				shared = shared || m.source == wm.source && m.target == wm.target && !wm.readOnly &&
					strings.HasPrefix(log, m.target+"/")
			}
		}
		if !shared {
			t.Errorf("%s: its log %s is not on a volume %s writes (%v, %v)", pub, log, web, s.Volumes, w.Volumes)
		}
		if !slices.Contains(w.Volumes, "./nginx/web.conf:/etc/nginx/conf.d/default.conf:ro") {
			t.Errorf("%s: volumes %v, want nginx/web.conf as its site", web, w.Volumes)
		}
		node := s.flag("node")
		if node == "" || nodes[node] {
			t.Errorf("%s: --node=%q, want a name of its own", pub, node)
		}
		nodes[node] = true
	}
	// Edges: every record from all three servers, each through a durable
	// consumer of its own, named (not left to the host name, which a
	// recreated container changes), with published ports.
	consumers := map[string]bool{}
	for _, name := range edges {
		s := c.Services[name]
		if s.flag("subscribe") != natsURLs || s.flag("log") != "" || s.flag("publish") != "" {
			t.Errorf("%s: command %v, want --subscribe=%s and no log", name, s.Command, natsURLs)
		}
		con := s.flag("consumer")
		if s.flag("node") != name || con == "" || consumers[con] {
			t.Errorf("%s: --node=%q --consumer=%q; want --node=%s and a consumer of its own (edges on one consumer share the records out)",
				name, s.flag("node"), con, name)
		}
		consumers[con] = true
		if len(s.Ports) == 0 || !strings.HasSuffix(s.Ports[0], ":8080") {
			t.Errorf("%s: ports %v, want its HTTP port 8080 published", name, s.Ports)
		}
	}
}

// onMount reports whether path is on a volume of s (read-only or
// writable, as asked).
func onMount(s service, path string, readOnly bool) bool {
	for _, m := range s.mounts() {
		if strings.HasPrefix(path, m.target+"/") && m.readOnly == readOnly && !strings.HasPrefix(m.source, ".") {
			return true
		}
	}
	return false
}

// nginxAccessLog is where nginx/web.conf writes the access log.
func nginxAccessLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("nginx/web.conf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*access_log\s+(\S+)\s+combined;`).FindSubmatch(b)
	if m == nil {
		t.Fatal("nginx/web.conf: no access_log in the combined format")
	}
	return string(m[1])
}

func streamConfig(t testing.TB) jetstream.StreamConfig {
	t.Helper()
	b, err := os.ReadFile("nats/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg jetstream.StreamConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("nats/stream.json: %v", err)
	}
	return cfg
}

// topology is compose.yaml's services run on loopback: the three NATS
// servers (this test binary as nats-server) with their configs from
// nats/, the stream from nats/stream.json, and weblogd binaries with their
// command lines from compose.yaml.
type topology struct {
	c        compose
	dir      string            // the volumes, configs and binaries
	weblogd  string            // the binary
	natsAddr *strings.Replacer // compose's NATS URLs to the loopback ones
	stream   jetstream.Stream
	procs    map[string]*proc
	logs     map[string]string // publishing node -> its log
	http     map[string]string // weblogd service -> its HTTP address
}

// startCluster starts NATS, clustered, and creates the stream as
// nats-init does once it has a JetStream leader.
func startCluster(tb testing.TB) *topology {
	tb.Helper()
	tp := &topology{c: loadCompose(tb), dir: tb.TempDir(), procs: map[string]*proc{},
		logs: map[string]string{}, http: map[string]string{}}
	tp.weblogd = buildWeblogd(tb, tp.dir)
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	clientPort := map[string]string{}
	routePort := map[string]string{}
	for _, n := range natsServers {
		clientPort[n], routePort[n] = freePort(tb), freePort(tb)
	}
	var urls []string
	for _, n := range natsServers {
		// Only ports and paths change: loopback ones, a temporary store.
		conf := rewrite(tb, "nats/"+n+".conf", []replacement{
			{"listen: 0.0.0.0:4222", "listen: 127.0.0.1:" + clientPort[n], 1},
			{"http: 0.0.0.0:8222", "http: 127.0.0.1:" + freePort(tb), 1},
			{"listen: 0.0.0.0:6222", "listen: 127.0.0.1:" + routePort[n], 1},
			{"nats-route://nats-1:6222", "nats-route://127.0.0.1:" + routePort["nats-1"], 1},
			{"nats-route://nats-2:6222", "nats-route://127.0.0.1:" + routePort["nats-2"], 1},
			{"nats-route://nats-3:6222", "nats-route://127.0.0.1:" + routePort["nats-3"], 1},
			{"store_dir: /data/jetstream", "store_dir: " + tp.storeDir(n), 1},
		})
		path := filepath.Join(tp.dir, n+".conf")
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			tb.Fatal(err)
		}
		tp.procs[n] = start(tb, n, exe, []string{natsArgsEnv + "=-c " + path}, "-test.run=^$")
		urls = append(urls, "nats://127.0.0.1:"+clientPort[n])
	}
	tp.natsAddr = strings.NewReplacer(
		"nats://nats-1:4222", urls[0], "nats://nats-2:4222", urls[1], "nats://nats-3:4222", urls[2])

	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := streamConfig(tb)
	waitFor(tb, 20*time.Second, "the stream to be created on the cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		tp.stream, err = js.CreateStream(ctx, cfg)
		return err == nil
	})
	return tp
}

func (tp *topology) storeDir(natsServer string) string {
	return filepath.Join(tp.dir, natsServer+"-data", "jetstream")
}

// startWeblogd runs a weblogd service with its command line from
// compose.yaml: its volumes are directories here, its NATS servers the
// loopback ones, its ports (the image's WEBLOGD_HTTP and WEBLOGD_TCP) free
// ones. It returns once the service is ready.
func (tp *topology) startWeblogd(tb testing.TB, name string) {
	tb.Helper()
	s := tp.c.Services[name]
	// A volume is a directory named after it; a path on one is the same
	// path in that directory.
	for _, m := range s.mounts() {
		if err := os.MkdirAll(filepath.Join(tp.dir, m.source), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	onHost := func(path string) string {
		for _, m := range s.mounts() {
			if rest, ok := strings.CutPrefix(path, m.target+"/"); ok {
				return filepath.Join(tp.dir, m.source, rest)
			}
		}
		tb.Fatalf("%s: %s is on no volume", name, path)
		return ""
	}
	var args []string
	for _, a := range s.Command {
		a = tp.natsAddr.Replace(a)
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(v, "/") {
			a = k + "=" + onHost(v)
		}
		if strings.Contains(a, "nats-") {
			tb.Fatalf("%s: argument %q still names a container", name, a)
		}
		args = append(args, a)
	}
	if log := s.flag("log"); log != "" {
		// nginx has made it by the time weblogd starts, in compose.
		if err := os.WriteFile(onHost(log), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
		tp.logs[s.flag("node")] = onHost(log)
	}
	addr := "127.0.0.1:" + freePort(tb)
	tp.http[name] = addr
	tp.procs[name] = start(tb, name, tp.weblogd, []string{"WEBLOGD_HTTP=" + addr, "WEBLOGD_TCP=127.0.0.1:" + freePort(tb)}, args...)
	waitFor(tb, 10*time.Second, name+" to be ready", func() bool { return get(addr, "/readyz") == http.StatusOK })
}

// consumers lists the stream's durable consumers.
func (tp *topology) consumers() []string {
	var names []string
	for ci := range tp.stream.ListConsumers(context.Background()).Info() {
		names = append(names, ci.Name)
	}
	return names
}

// TestComposeOnLoopback runs compose.yaml's topology on loopback: a
// three-server NATS cluster from nats/*.conf, the stream from
// nats/stream.json, the two publishing weblogds and the two edges with
// their command lines from compose.yaml. Both edges serve every line
// written to either log once, in order per node, also after the NATS
// server leading the stream is killed.
func TestComposeOnLoopback(t *testing.T) {
	started := time.Now()
	tp := startCluster(t)
	t.Logf("cluster up and stream created %v after the start", time.Since(started).Round(time.Millisecond))
	for _, name := range []string{"weblogd-1", "weblogd-2", "edge-1", "edge-2"} {
		tp.startWeblogd(t, name)
	}
	if len(tp.logs) != 2 {
		t.Fatalf("logs %v: want one for each publisher", tp.logs)
	}
	// Each edge through a durable consumer of its own: two edges on one
	// consumer would share out the records between them.
	var want []string
	for _, name := range edges {
		want = append(want, tp.c.Services[name].flag("consumer"))
	}
	var durables []string
	for deadline := time.Now().Add(5 * time.Second); len(durables) < 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		durables = tp.consumers()
	}
	slices.Sort(durables)
	if !slices.Equal(durables, want) {
		t.Fatalf("the stream's consumers are %v, want the edges' %v: edges on one consumer share the records out", durables, want)
	}

	const perPhase = 100
	write := func(phase int) {
		for i := range perPhase {
			for node, p := range tp.logs {
				appendLines(t, p, fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /%s/%d HTTP/1.1" 200 %d "-" "compose-test"`,
					node, phase*perPhase+i, i))
			}
		}
	}
	check := func(want int) {
		for _, name := range edges {
			addr := tp.http[name]
			waitFor(t, 20*time.Second, fmt.Sprintf("%s to serve %d records", name, want), func() bool {
				return len(hits(t, addr)) >= want
			})
		}
		time.Sleep(200 * time.Millisecond) // room for a duplicate to show
		for _, name := range edges {
			checkOnce(t, name, hits(t, tp.http[name]), tp.logs, want/2)
		}
	}
	write(0)
	check(2 * perPhase)

	// The server that leads the stream goes away without a word; the
	// other two elect a new leader, and the weblogds connected to it
	// reconnect to them.
	info, err := tp.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leader := info.Cluster.Leader
	if len(info.Cluster.Replicas) != 2 || tp.procs[leader] == nil {
		t.Fatalf("stream cluster %+v: want a leader among %v and two replicas", info.Cluster, natsServers)
	}
	killed := time.Now()
	tp.procs[leader].kill()
	write(1)
	check(4 * perPhase)
	t.Logf("%s (the stream's leader) killed: every record at both edges %v later", leader, time.Since(killed).Round(time.Millisecond))
}

// BenchmarkComposeOnLoopback measures the compose topology on loopback,
// for the sizing figures of docs/fleet.md: b.N lines of the real Apache log
// in feed/testdata written at once to the log of one publisher, or of
// each of the two, and
//
//   - publish-records/s: the publishers together, from the write to the
//     last record stored (acknowledged by the three-replica stream);
//   - stored-B/record: the stream's bytes per record, as JetStream counts
//     them against max_bytes;
//   - disk-B/record: the files of one server's store, per record;
//   - edge-records/s: an edge started afterwards, from its start to
//     holding every record (an edge catching up: the most it takes in);
//   - log-B/line: the log's own bytes per line, for comparison;
//   - publisher-cpu-µs/record, nats-cpu-µs/record, edge-cpu-µs/record:
//     the CPU time (user and system, from /proc) the publishers, the
//     three NATS servers and the edge spent per record over those
//     intervals.
//
// Run it without -race, on an otherwise idle machine:
//
//	go test -run '^$' -bench ComposeOnLoopback -benchtime 100000x ./deploy/
func BenchmarkComposeOnLoopback(b *testing.B) {
	for _, publishers := range []int{1, 2} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) { benchCompose(b, publishers) })
	}
}

func benchCompose(b *testing.B, publishers int) {
	lines := readLines(b, "../format/testdata/apache_combined_10k.log")
	tp := startCluster(b)
	for i := 1; i <= publishers; i++ {
		tp.startWeblogd(b, fmt.Sprintf("weblogd-%d", i))
	}
	n := b.N
	total := publishers * n
	var batch []string
	for i := range n {
		batch = append(batch, lines[i%len(lines)])
	}
	pubCPU, natsCPU := tp.cpu(b, "weblogd-1", "weblogd-2"), tp.cpu(b, natsServers...)
	b.ResetTimer()
	start := time.Now()
	for _, p := range tp.logs {
		appendLines(b, p, batch...)
	}
	waitFor(b, 10*time.Minute, "every record in the stream", func() bool {
		var sum uint64
		for i := 1; i <= publishers; i++ {
			published, pending := publishedRecords(tp.http[fmt.Sprintf("weblogd-%d", i)])
			if pending != 0 {
				return false
			}
			sum += published
		}
		return sum >= uint64(total)
	})
	published := time.Since(start)
	info, err := tp.stream.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	st := info.State
	pubCPU, natsCPU = tp.cpu(b, "weblogd-1", "weblogd-2")-pubCPU, tp.cpu(b, natsServers...)-natsCPU
	edgeStart := time.Now()
	tp.startWeblogd(b, "edge-1")
	waitFor(b, 10*time.Minute, "every record at the edge", func() bool { return lastSeq(tp.http["edge-1"]) >= uint64(total) })
	caughtUp := time.Since(edgeStart)
	edgeCPU := tp.cpu(b, "edge-1")
	b.StopTimer()
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	if got := lastSeq(tp.http["edge-1"]); got != uint64(total) {
		b.Fatalf("the edge took %d records, want %d", got, total)
	}
	var raw int
	for _, l := range lines {
		raw += len(l) + 1
	}
	b.ReportMetric(float64(total)/published.Seconds(), "publish-records/s")
	b.ReportMetric(float64(st.Bytes)/float64(total), "stored-B/record")
	b.ReportMetric(float64(dirSize(b, tp.storeDir("nats-1")))/float64(total), "disk-B/record")
	b.ReportMetric(float64(total)/float64(st.Msgs), "records/batch")
	b.ReportMetric(float64(total)/caughtUp.Seconds(), "edge-records/s")
	b.ReportMetric(float64(raw)/float64(len(lines)), "log-B/line")
	perRecord := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(total) }
	b.ReportMetric(perRecord(pubCPU), "publisher-cpu-µs/record")
	b.ReportMetric(perRecord(natsCPU), "nats-cpu-µs/record")
	b.ReportMetric(perRecord(edgeCPU), "edge-cpu-µs/record")
	b.ReportMetric(0, "ns/op")
}

func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// cpu is the CPU time (user and system) the named processes have used so
// far; those not started count 0.
func (tp *topology) cpu(tb testing.TB, names ...string) time.Duration {
	var total time.Duration
	for _, name := range names {
		p := tp.procs[name]
		if p == nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			tb.Fatalf("CPU time of %s: %v", name, err)
		}
		// After the command's name in parentheses: state is field 3,
		// utime and stime are 14 and 15, in clock ticks (USER_HZ, 100 on
		// Linux).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		var utime, stime int64
		fmt.Sscan(f[11], &utime)
		fmt.Sscan(f[12], &stime)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return total
}

// lastSeq is the edge's last seq, from /api/status: how many records it
// has taken in (its ring keeps only the newest).
func lastSeq(addr string) uint64 {
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		Ring struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"ring"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0
	}
	return st.Ring.LastSeq
}

// publishedRecords is what the publisher at addr says of NATS: records
// acknowledged by the stream, and records waiting.
func publishedRecords(addr string) (published uint64, pending int) {
	resp, err := http.Get("http://" + addr + "/api/status")
	if err != nil {
		return 0, -1
	}
	defer resp.Body.Close()
	var st struct {
		NATS struct {
			Publish struct {
				Published uint64 `json:"published"`
				Pending   int    `json:"pending"`
			} `json:"publish"`
		} `json:"nats"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0, -1
	}
	return st.NATS.Publish.Published, st.NATS.Publish.Pending
}

// dirSize is the size of the files under dir.
func dirSize(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// record is what /api/hits gives back that the check reads.
type record struct {
	Seq  uint64 `json:"seq"`
	Node string `json:"node"`
	Path string `json:"path"`
	Type string `json:"type"`
}

func hits(t testing.TB, addr string) []record {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/hits?since=0&limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []record
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// checkOnce checks that an edge holds n records of each node, each once,
// in the order written, numbered by the edge's own seq from 1 on.
func checkOnce(t *testing.T, edge string, recs []record, logs map[string]string, n int) {
	t.Helper()
	next := map[string]int{}
	for i, r := range recs {
		if r.Type != "" || r.Seq != uint64(i+1) {
			t.Fatalf("%s: item %d is %+v, want the record of seq %d", edge, i, r, i+1)
		}
		if _, ok := logs[r.Node]; !ok {
			t.Fatalf("%s: record %+v of an unknown node", edge, r)
		}
		if want := fmt.Sprintf("/%s/%d", r.Node, next[r.Node]); r.Path != want {
			t.Fatalf("%s: record %+v, want %s's path %s (lost, duplicated or out of order)", edge, r, r.Node, want)
		}
		next[r.Node]++
	}
	for node := range logs {
		if next[node] != n {
			t.Fatalf("%s: %d records of %s, want %d", edge, next[node], node, n)
		}
	}
}

// replacement is one rewrite of a file the harness adapts: old becomes
// new, and must be found exactly n times.
type replacement struct {
	old, new string
	n        int
}

func rewrite(t testing.TB, path string, rs []replacement) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range rs {
		if got := strings.Count(s, r.old); got != r.n {
			t.Fatalf("%s has %q %d times, want %d: the harness no longer matches the file", path, r.old, got, r.n)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	return []byte(s)
}

// buildWeblogd builds cmd/weblogd into dir, as deploy/Dockerfile does but
// for this machine.
func buildWeblogd(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "weblogd")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/weblogd").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/weblogd: %v\n%s", err, out)
	}
	return bin
}

// proc is a process the test started: stopped with SIGTERM (and waited
// for) when the test ends, its output kept for a failure's report.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func start(t testing.TB, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop within 10 s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.out.tail(30))
		}
	})
	return p
}

// kill stops the process at once, as a crash or a lost machine would.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// tail is the last n lines written.
func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func get(addr, path string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func appendLines(t testing.TB, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
