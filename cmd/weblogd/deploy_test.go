package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The checks of deploy/: what runs weblogd elsewhere. The container image
// is not built here (no Docker engine on the test machines; .ci/run builds
// it where one answers), but its Dockerfile is checked for what matters
// and its health check is run against a real weblogd.

const deployDir = "../../deploy"

// systemd's own checker accepts the unit without a single warning (it
// warns and exits 0 for unknown keys), and its security review rates it
// "OK" or better. The ExecStart binary must exist: the unit is checked as
// a copy that runs the weblogd built for these tests.
func TestSystemdUnit(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	b, err := os.ReadFile(filepath.Join(deployDir, "weblogd.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
		"StateDirectory=weblogd", "--state ${STATE_DIRECTORY}/state.json", "SupplementaryGroups=adm",
		"ReadOnlyPaths=/var/log/nginx", "Restart=on-failure", "RestartPreventExitStatus=2",
		"TimerSlackNSec=1ms\n", // weblogd does not set its own: docs/operations.md, "Timer slack"
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/weblogd ") {
		t.Fatal("the unit's ExecStart does not run /usr/local/bin/weblogd")
	}
	path := filepath.Join(t.TempDir(), "weblogd.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/weblogd", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure level, 0 (locked down) to 10, times 10: 2.0 is "OK".
	out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if m := regexp.MustCompile(`Overall exposure level for \S+: (\S+ \S+)`).FindSubmatch(out); m != nil {
		t.Logf("exposure level: %s", m[1])
	}
}

// yamlDocs parses YAML files (every document in each) with a real YAML
// parser, PyYAML: Debian's python3-yaml, which .ci/run installs. A python3
// of pyenv's may lack it, so Debian's own is tried too.
func yamlDocs(t *testing.T, paths []string) map[string][]any {
	t.Helper()
	var pythons []string
	if p, err := exec.LookPath("python3"); err == nil {
		pythons = append(pythons, p)
	}
	pythons = append(pythons, "/usr/bin/python3")
	const script = `import sys, json, yaml
out = {}
for p in sys.argv[1:]:
    try:
        out[p] = list(yaml.safe_load_all(open(p)))
    except yaml.YAMLError as e:
        sys.exit("%s: %s" % (p, e))
json.dump(out, sys.stdout)`
	for _, py := range pythons {
		if exec.Command(py, "-c", "import yaml").Run() != nil {
			continue
		}
		var stderr bytes.Buffer
		cmd := exec.Command(py, append([]string{"-c", script}, paths...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("YAML that does not parse: %v\n%s", err, stderr.String())
		}
		var docs map[string][]any
		if err := json.Unmarshal(out, &docs); err != nil {
			t.Fatal(err)
		}
		return docs
	}
	missing(t, "PyYAML", "python3-yaml")
	return nil
}

// obj walks a parsed YAML document: obj(d, "spec", "template") is
// d.spec.template as a map, nil if it is missing.
func obj(v any, path ...string) map[string]any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}

// list is like obj, for a list.
func list(v any, path ...string) []any {
	if len(path) == 0 {
		l, _ := v.([]any)
		return l
	}
	l, _ := obj(v, path[:len(path)-1]...)[path[len(path)-1]].([]any)
	return l
}

// Every YAML file under deploy/kubernetes/ parses, and the manifests say
// what they are for: nginx and the weblogd sidecar share the log volume,
// weblogd's probes are /healthz and /readyz, every container runs as
// non-root on a read-only root file system with no capabilities and
// bounded memory, and the Service exposes 8080 and 8888.
func TestKubernetesManifests(t *testing.T) {
	var files []string
	// deploy/compose.yaml is no Kubernetes manifest: deploy/compose_test.go checks it.
	filepath.WalkDir(filepath.Join(deployDir, "kubernetes"), func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return err
	})
	if len(files) == 0 {
		t.Fatal("no YAML file under deploy/kubernetes/")
	}
	byKind := map[string][]map[string]any{}
	parsed := yamlDocs(t, files)
	for _, f := range files {
		for _, d := range parsed[f] {
			m, _ := d.(map[string]any)
			if m["apiVersion"] == nil || m["kind"] == nil {
				t.Errorf("%s: a document without apiVersion and kind: %v", f, d)
				continue
			}
			byKind[m["kind"].(string)] = append(byKind[m["kind"].(string)], m)
		}
	}
	for _, k := range byKind["Kustomization"] {
		for _, r := range list(k, "resources") {
			if _, err := os.Stat(filepath.Join(deployDir, "kubernetes", r.(string))); err != nil {
				t.Errorf("kustomization lists %v: %v", r, err)
			}
		}
	}
	if len(byKind["Deployment"]) != 1 || len(byKind["Service"]) != 1 {
		t.Fatalf("want one Deployment and one Service, got %d and %d", len(byKind["Deployment"]), len(byKind["Service"]))
	}
	dep, svc := byKind["Deployment"][0], byKind["Service"][0]
	pod := obj(dep, "spec", "template", "spec")
	volumes := map[string]map[string]any{}
	for _, v := range list(pod, "volumes") {
		volumes[obj(v)["name"].(string)] = obj(v)
	}
	podNonRoot := obj(pod, "securityContext")["runAsNonRoot"] == true
	var weblogd map[string]any
	mountsOf := map[string][]string{} // volume -> containers mounting it
	for _, c := range list(pod, "containers") {
		c := obj(c)
		name := c["name"].(string)
		sc := obj(c, "securityContext")
		if !podNonRoot && sc["runAsNonRoot"] != true {
			t.Errorf("container %s may run as root", name)
		}
		if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
			!slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
			t.Errorf("container %s: securityContext %v, want a read-only root, no privilege escalation, all capabilities dropped", name, sc)
		}
		if obj(c, "resources", "requests") == nil || obj(c, "resources", "limits")["memory"] == nil {
			t.Errorf("container %s: resources %v, want requests and a memory limit", name, obj(c, "resources"))
		}
		for _, m := range list(c, "volumeMounts") {
			mountsOf[obj(m)["name"].(string)] = append(mountsOf[obj(m)["name"].(string)], name)
		}
		if name == "weblogd" {
			weblogd = c
		}
	}
	if weblogd == nil {
		t.Fatal("no container named weblogd")
	}
	if p := obj(weblogd, "livenessProbe", "httpGet")["path"]; p != "/healthz" {
		t.Errorf("weblogd's liveness probe is %v, want /healthz", p)
	}
	if p := obj(weblogd, "readinessProbe", "httpGet")["path"]; p != "/readyz" {
		t.Errorf("weblogd's readiness probe is %v, want /readyz", p)
	}
	// The log weblogd follows is on a volume it mounts read-only and
	// another container (the web server) mounts too: an emptyDir.
	var logPath string
	for _, a := range list(weblogd, "args") {
		if v, ok := strings.CutPrefix(a.(string), "--log="); ok {
			logPath = v
		}
	}
	shared := false
	for _, m := range list(weblogd, "volumeMounts") {
		m := obj(m)
		name := m["name"].(string)
		if strings.HasPrefix(logPath, m["mountPath"].(string)+"/") {
			shared = m["readOnly"] == true && volumes[name]["emptyDir"] != nil && len(mountsOf[name]) == 2
		}
	}
	if !shared {
		t.Errorf("weblogd's --log=%s is not on an emptyDir shared with the web server and mounted read-only by weblogd", logPath)
	}
	// The Service's ports reach weblogd's named ports on these pods.
	named := map[string]float64{}
	for _, p := range list(weblogd, "ports") {
		named[obj(p)["name"].(string)] = obj(p)["containerPort"].(float64)
	}
	var ports []float64
	for _, p := range list(svc, "spec", "ports") {
		p := obj(p)
		if named[p["targetPort"].(string)] != p["port"] {
			t.Errorf("Service port %v targets %v, which is weblogd's %v", p["port"], p["targetPort"], named[p["targetPort"].(string)])
		}
		ports = append(ports, p["port"].(float64))
	}
	if !slices.Equal(ports, []float64{8080, 8888}) {
		t.Errorf("Service ports %v, want 8080 and 8888", ports)
	}
	labels := obj(dep, "spec", "template", "metadata", "labels")
	for k, v := range obj(svc, "spec", "selector") {
		if labels[k] != v {
			t.Errorf("the Service selects %s=%v, the pods are labelled %v", k, v, labels)
		}
	}
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

// The Dockerfile is a multi-stage build of a static, stripped, versioned
// binary onto an image with nothing else, run as a non-root user, state on
// a volume, both ports exposed, and a health check that works: it is run
// here, as the image would run it, against a weblogd started with the
// image's environment.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join(deployDir, "Dockerfile"))
	var stages []string // FROM lines
	var final []instruction
	args := map[string]string{}
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			stages = append(stages, in.args)
			final = nil
		case "ARG":
			if k, v, ok := strings.Cut(in.args, "="); ok && len(stages) == 0 {
				args[k] = v
			}
		}
		final = append(final, in)
	}
	if len(stages) < 2 {
		t.Fatalf("FROM %v: want a build stage and a final one", stages)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if !strings.HasPrefix(stages[0], "golang:${GO_VERSION}") || goVersion == nil || args["GO_VERSION"] != string(goVersion[1]) {
		t.Errorf("build stage FROM %s with GO_VERSION=%s, want golang:${GO_VERSION} at go.mod's Go %s", stages[0], args["GO_VERSION"], goVersion[1])
	}
	last := strings.Fields(stages[len(stages)-1])[0]
	if last != "scratch" && !strings.HasPrefix(last, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless/static", last)
	}
	var build string
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
		if in.cmd == "COPY" && strings.Contains(in.args, "--from=") {
			from := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args)[1]
			if !slices.ContainsFunc(stages, func(s string) bool { return strings.HasSuffix(s, " AS "+from) }) {
				t.Errorf("line %d: COPY --from=%s names no stage", in.line, from)
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "./cmd/weblogd"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build %q lacks %s", build, want)
		}
	}

	got := map[string]instruction{}
	env := map[string]string{}
	for _, in := range final {
		got[in.cmd] = in
		if in.cmd == "ENV" {
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	user := strings.Split(got["USER"].args, ":")[0]
	if user == "" || user == "root" || user == "0" {
		t.Errorf("final stage USER %q, want a non-root user", got["USER"].args)
	}
	if e := strings.Fields(got["EXPOSE"].args); !slices.Equal(e, []string{"8080", "8888"}) {
		t.Errorf("EXPOSE %v, want 8080 8888", e)
	}
	if !strings.Contains(got["VOLUME"].args, "/var/lib/weblogd") || !strings.HasPrefix(env["WEBLOGD_STATE"], "/var/lib/weblogd/") {
		t.Errorf("VOLUME %q, WEBLOGD_STATE %q: want the checkpoint on the volume", got["VOLUME"].args, env["WEBLOGD_STATE"])
	}
	var entrypoint, check []string
	json.Unmarshal([]byte(got["ENTRYPOINT"].args), &entrypoint)
	if _, cmd, ok := strings.Cut(got["HEALTHCHECK"].args, "CMD "); ok {
		json.Unmarshal([]byte(cmd), &check)
	}
	if len(entrypoint) != 1 || len(check) < 2 || check[0] != entrypoint[0] || check[1] != "healthcheck" {
		t.Fatalf("ENTRYPOINT %v, HEALTHCHECK %v: want the exec form, the health check being the entrypoint's healthcheck subcommand", entrypoint, check)
	}

	// The image's environment, with loopback ports and a temporary
	// volume; then its health check, with the address the server took.
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	var imageEnv []string
	for k, v := range env {
		switch k {
		case "WEBLOGD_HTTP", "WEBLOGD_TCP":
			v = "127.0.0.1:0"
		case "WEBLOGD_STATE":
			v = filepath.Join(dir, filepath.Base(v))
		}
		imageEnv = append(imageEnv, k+"="+v)
	}
	p := start(t, imageEnv, "--log", log)
	cmd := exec.Command(binary, check[1:]...)
	cmd.Env = append(os.Environ(), "WEBLOGD_HTTP="+p.http)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the image's health check %v: %v\n%s", check, err, out)
	}
	if code := p.signal(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		t.Errorf("no checkpoint on the volume: %v", err)
	}
}
