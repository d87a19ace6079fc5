package validate

import (
	"context"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFile is the local stack, relative to the repository root.
var composeFile = []string{"deploy", "compose", "compose.yaml"}

// loadCompose loads the compose file as `docker compose` does: validated
// against the Compose specification (unknown keys are errors), ${VAR:-default}
// interpolated from env alone (not the machine's environment), relative
// paths resolved, and every profile enabled.
func loadCompose(t testing.TB, env map[string]string) *types.Project {
	t.Helper()
	path := repoPath(composeFile...)
	p, err := loadComposeFile(path, filepath.Dir(path), env)
	if err != nil {
		t.Fatalf("load %s: %v", filepath.Join(composeFile...), err)
	}
	return p
}

// loadComposeFile loads the compose file at path; relative paths in it are
// relative to workingDir.
func loadComposeFile(path, workingDir string, env map[string]string) (*types.Project, error) {
	if env == nil {
		env = map[string]string{}
	}
	details := types.ConfigDetails{
		WorkingDir:  workingDir,
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		Environment: env,
	}
	return loader.LoadWithContext(context.Background(), details, loader.WithProfiles([]string{"*"}))
}

// TestComposeRejectsUnknownKeys checks that the loader validates against the Compose
// specification, by loading a copy with a misspelt key.
func TestComposeRejectsUnknownKeys(t *testing.T) {
	// The loader must validate: a misspelt key has to fail, or the other
	// compose tests prove nothing about what Docker Compose accepts.
	data, err := os.ReadFile(repoPath(composeFile...))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "    healthcheck:\n", "    healthchek:\n", 1)
	if broken == string(data) {
		t.Fatal("the compose file has no healthcheck to misspell")
	}
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadComposeFile(path, filepath.Dir(repoPath(composeFile...)), nil); err == nil {
		t.Fatal("a compose file with the unknown key healthchek loaded without error: the loader does not validate")
	}
}

// TestComposeHasTheWholeStack checks that every part of the local stack is a service.
func TestComposeHasTheWholeStack(t *testing.T) {
	p := loadCompose(t, nil)
	want := []string{"intake", "dispatch", "response", "evaluation", "monitoring",
		"nats", "postgres", "otel-collector", "jaeger", "prometheus", "grafana", "gateway", "devkeys", "whistlectl"}
	for _, name := range want {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("%s has no service %q", filepath.Join(composeFile...), name)
		}
	}
}

// TestComposeWhistleServices checks each of the five services: its command and port,
// the non-root image it runs, its gRPC healthcheck, what it waits for, and
// where its database, NATS, keys and traces come from.
func TestComposeWhistleServices(t *testing.T) {
	p := loadCompose(t, nil)
	dockerfile := parseDockerfile(t)
	for _, ws := range whistleServices(t) {
		t.Run(ws.Name, func(t *testing.T) {
			s, ok := p.Services[ws.Name]
			if !ok {
				t.Fatalf("no service %s", ws.Name)
			}
			wantCmd := []string{"serve", ws.Name, "--addr", ":" + ws.Port}
			if !slices.Equal(s.Command, wantCmd) {
				t.Errorf("command %q, want %q (the port `whistle serve %s` uses by default, which the gateway and healthcheck name)",
					s.Command, wantCmd, ws.Name)
			}
			checkBuiltFromDockerfile(t, s, "")
			if s.User != "" && isRootUser(s.User) {
				t.Errorf("user %q: run the services as the image's non-root user", s.User)
			}
			if u := dockerfile.finalStage().user; isRootUser(u) {
				t.Errorf("the image (deploy/Dockerfile's last stage) runs as %q: set a non-root USER", u)
			}
			if !s.ReadOnly {
				t.Errorf("read_only is not set: the services write nothing to their file system")
			}

			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Fatalf("no healthcheck: give it one (grpc-health-probe on %s); the gateway waits for it", ws.Port)
			}
			probe := hc.Test[1]
			if hc.Test[0] != "CMD" || !dockerfile.finalStage().hasFile(probe) {
				t.Errorf("healthcheck %q: the image has no shell; run a binary the image holds (it has %v)",
					hc.Test, dockerfile.finalStage().files())
			}
			for _, arg := range []string{"-addr=127.0.0.1:" + ws.Port, "-service=" + ws.GRPCService} {
				if !slices.Contains(hc.Test, arg) {
					t.Errorf("healthcheck %q lacks %s: it must ask this service's port whether %s is SERVING", hc.Test, arg, ws.GRPCService)
				}
			}

			for dep, cond := range map[string]string{"postgres": types.ServiceConditionHealthy, "nats": types.ServiceConditionHealthy,
				"devkeys": types.ServiceConditionCompletedSuccessfully} {
				if got := s.DependsOn[dep].Condition; got != cond {
					t.Errorf("depends_on %s: condition %q, want %q", dep, got, cond)
				}
			}

			env := environment(s)
			db, err := url.Parse(env["WHISTLE_DATABASE_URL"])
			if err != nil || db.Scheme != "postgres" || db.Hostname() != "postgres" {
				t.Errorf("WHISTLE_DATABASE_URL %q: want postgres://…@postgres:5432/…", env["WHISTLE_DATABASE_URL"])
			} else if _, has := db.User.Password(); has {
				t.Errorf("WHISTLE_DATABASE_URL carries a password: keep it in the pgpass secret (PGPASSFILE): environment variables show in `docker inspect`")
			}
			if nu, err := url.Parse(env["WHISTLE_NATS_URL"]); err != nil || nu.Hostname() != "nats" {
				t.Errorf("WHISTLE_NATS_URL %q: want nats://nats:4222", env["WHISTLE_NATS_URL"])
			}
			if !hasSecretAt(s, env["PGPASSFILE"]) {
				t.Errorf("PGPASSFILE %q is not a secret the service mounts (%v)", env["PGPASSFILE"], s.Secrets)
			}
			if !mountedUnder(s, env["WHISTLE_JWKS"]) {
				t.Errorf("WHISTLE_JWKS %q is in no volume the service mounts", env["WHISTLE_JWKS"])
			}
			if ou, err := url.Parse(env["OTEL_EXPORTER_OTLP_ENDPOINT"]); err != nil || p.Services[ou.Hostname()].Name == "" {
				t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q does not name a service of the stack", env["OTEL_EXPORTER_OTLP_ENDPOINT"])
			}
		})
	}
}

// checkBuiltFromDockerfile checks that s is built from deploy/Dockerfile with
// the repository root as context, at target ("" for the last stage).
func checkBuiltFromDockerfile(t *testing.T, s types.ServiceConfig, target string) {
	t.Helper()
	if s.Build == nil {
		t.Errorf("%s is not built from deploy/Dockerfile (no build:)", s.Name)
		return
	}
	root, _ := filepath.Abs(repoPath())
	if filepath.Clean(s.Build.Context) != root {
		t.Errorf("%s: build context %s, want the repository root %s", s.Name, s.Build.Context, root)
	}
	if s.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("%s: dockerfile %q, want deploy/Dockerfile", s.Name, s.Build.Dockerfile)
	}
	if s.Build.Target != target {
		t.Errorf("%s: build target %q, want %q", s.Name, s.Build.Target, target)
	}
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "root" || name == "0"
}

// environment returns a service's environment with unset variables as "".
func environment(s types.ServiceConfig) map[string]string {
	env := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		} else {
			env[k] = ""
		}
	}
	return env
}

func hasSecretAt(s types.ServiceConfig, path string) bool { return secretAt(s, path) != "" }

// secretAt returns the name of the secret s mounts at path, or "".
func secretAt(s types.ServiceConfig, path string) string {
	for _, sec := range s.Secrets {
		if secretPath(sec) == path {
			return sec.Source
		}
	}
	return ""
}

// secretPath is where a service finds a secret.
func secretPath(sec types.ServiceSecretConfig) string {
	switch {
	case sec.Target == "":
		return "/run/secrets/" + sec.Source
	case !strings.HasPrefix(sec.Target, "/"):
		return "/run/secrets/" + sec.Target
	}
	return sec.Target
}

func mountedUnder(s types.ServiceConfig, path string) bool {
	for _, v := range s.Volumes {
		if path != "" && (path == v.Target || strings.HasPrefix(path, strings.TrimSuffix(v.Target, "/")+"/")) {
			return true
		}
	}
	return false
}

// TestComposeHealthyDependenciesHaveHealthchecks checks that every service waited for as
// healthy has a healthcheck, and every one waited for to complete is a one-shot.
func TestComposeHealthyDependenciesHaveHealthchecks(t *testing.T) {
	// depends_on: {condition: service_healthy} on a service without a
	// healthcheck never becomes true: `up` fails.
	p := loadCompose(t, nil)
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != "no" {
					t.Errorf("%s waits for %s to complete, but %s restarts (%q)", name, dep, dep, target.Restart)
				}
			}
		}
	}
}

// TestComposeMountedFilesExist checks that every file the compose file mounts, builds
// from or reads a secret from exists in the repository.
func TestComposeMountedFilesExist(t *testing.T) {
	p := loadCompose(t, nil)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s at %s, which does not exist: %v", name, v.Source, v.Target, err)
			}
		}
		if s.Build != nil {
			df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s is built from %s, which does not exist", name, df)
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := p.Secrets[sec.Source]; !ok {
				t.Errorf("%s uses secret %s, which the file does not define", name, sec.Source)
			}
		}
	}
	for name, sec := range p.Secrets {
		if sec.File == "" {
			t.Errorf("secret %s has no file", name)
			continue
		}
		if _, err := os.Stat(sec.File); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
	}
}

// TestComposeImagesArePinned checks that every image pulled names a release tag.
func TestComposeImagesArePinned(t *testing.T) {
	p := loadCompose(t, nil)
	for name, s := range p.Services {
		if s.Build != nil {
			continue
		}
		ref := s.Image
		tag := ""
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			tag = ref[i+1:]
		}
		if tag == "" || tag == "latest" || !regexp.MustCompile(`\d`).MatchString(tag) {
			t.Errorf("%s: image %q is not pinned to a version: name a release tag", name, ref)
		}
	}
}

// TestComposePorts checks that published ports are on 127.0.0.1, distinct, and
// include the gateway on 7000 and the three UIs.
func TestComposePorts(t *testing.T) {
	p := loadCompose(t, nil)
	published := map[string]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published == "" {
				continue
			}
			if ip := net.ParseIP(port.HostIP); ip == nil || !ip.IsLoopback() {
				t.Errorf("%s publishes %s on %q: bind the development stack to 127.0.0.1", name, port.Published, port.HostIP)
			}
			if other, dup := published[port.Published]; dup {
				t.Errorf("%s and %s both publish host port %s", name, other, port.Published)
			}
			published[port.Published] = name
		}
	}
	if published["7000"] != "gateway" {
		t.Errorf("host port 7000 (the address whistlectl uses by default) is published by %q, want the gateway", published["7000"])
	}
	for _, ui := range map[string]string{"3000": "grafana", "16686": "jaeger", "9090": "prometheus"} {
		if !slices.Contains(slices.Collect(maps.Values(published)), ui) {
			t.Errorf("%s's UI is not published on the host", ui)
		}
	}
}

// TestComposeInterpolatesPorts checks that the port variables move the published ports.
func TestComposeInterpolatesPorts(t *testing.T) {
	p := loadCompose(t, map[string]string{"WHISTLE_PORT": "17000", "WHISTLE_GRAFANA_PORT": "13000"})
	for service, want := range map[string]string{"gateway": "17000", "grafana": "13000"} {
		var got []string
		for _, port := range p.Services[service].Ports {
			got = append(got, port.Published)
		}
		if !slices.Contains(got, want) {
			t.Errorf("%s publishes %v with its port variable set to %s: the variable is not used", service, got, want)
		}
	}
}

// TestComposePostgres checks that PostgreSQL reads deploy/postgres/whistle.conf and
// that the services' pgpass secret holds its user, database and password.
func TestComposePostgres(t *testing.T) {
	p := loadCompose(t, nil)
	pg := p.Services["postgres"]
	conf := repoPath("deploy", "postgres", "whistle.conf")
	var confTarget string
	for _, v := range pg.Volumes {
		if v.Type == types.VolumeTypeBind && filepath.Clean(v.Source) == filepath.Clean(conf) {
			confTarget = v.Target
		}
	}
	if confTarget == "" {
		t.Fatalf("postgres does not mount deploy/postgres/whistle.conf (the durable settings)")
	}
	included := false
	for _, v := range pg.Volumes {
		if v.Type != types.VolumeTypeBind || !strings.HasPrefix(v.Target, "/docker-entrypoint-initdb.d/") {
			continue
		}
		b, err := os.ReadFile(v.Source)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "include '"+confTarget+"'") {
			included = true
		}
	}
	if !included {
		t.Errorf("no init script in /docker-entrypoint-initdb.d includes %s from postgresql.conf: the settings are mounted but not read", confTarget)
	}

	// The password postgres is made with is the one pgx finds in the pgpass
	// secret for the services' URL.
	env := environment(pg)
	password := readSecret(t, p, pg, env["POSTGRES_PASSWORD_FILE"])
	intake := p.Services["intake"]
	ienv := environment(intake)
	db, err := url.Parse(ienv["WHISTLE_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	port := db.Port()
	if port == "" {
		port = "5432"
	}
	want := strings.Join([]string{db.Hostname(), port, strings.TrimPrefix(db.Path, "/"), db.User.Username(), strings.TrimSpace(password)}, ":")
	pgpass := readSecret(t, p, intake, ienv["PGPASSFILE"])
	if !slices.Contains(strings.Split(strings.TrimSpace(pgpass), "\n"), want) {
		t.Errorf("the pgpass secret has no line %q matching WHISTLE_DATABASE_URL and postgres's password", want)
	}
	if env["POSTGRES_USER"] != db.User.Username() || env["POSTGRES_DB"] != strings.TrimPrefix(db.Path, "/") {
		t.Errorf("postgres makes user %q and database %q, the services connect as %q to %q",
			env["POSTGRES_USER"], env["POSTGRES_DB"], db.User.Username(), strings.TrimPrefix(db.Path, "/"))
	}
}

// readSecret returns the content of the secret s mounts at path.
func readSecret(t *testing.T, p *types.Project, s types.ServiceConfig, path string) string {
	t.Helper()
	name := secretAt(s, path)
	if name == "" {
		t.Fatalf("%s mounts no secret at %q", s.Name, path)
	}
	b, err := os.ReadFile(p.Secrets[name].File)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestComposeGatewayRoutesEveryAPI checks that gateway.conf routes every gRPC API in
// proto/whistle/v1 to the service and port that serve it.
func TestComposeGatewayRoutesEveryAPI(t *testing.T) {
	p := loadCompose(t, nil)
	conf := readRepoFile(t, "deploy", "compose", "gateway.conf")
	routeRE := regexp.MustCompile(`location /([\w.]+)/ \{\s*set \$upstream ([\w-]+):(\d+);\s*grpc_pass grpc://\$upstream;`)
	routes := map[string][2]string{}
	for _, m := range routeRE.FindAllStringSubmatch(conf, -1) {
		routes[m[1]] = [2]string{m[2], m[3]}
	}
	ports := map[string]string{}
	for _, ws := range whistleServices(t) {
		ports[ws.Name] = ws.Port
		if got := routes[ws.GRPCService]; got != [2]string{ws.Name, ws.Port} {
			t.Errorf("gateway.conf routes %s to %v, want %s:%s", ws.GRPCService, got, ws.Name, ws.Port)
		}
	}
	// Every API in proto/whistle/v1 is reachable through the gateway.
	protos, _ := filepath.Glob(repoPath("proto", "whistle", "v1", "*_service.proto"))
	serviceRE := regexp.MustCompile(`(?m)^service (\w+) \{`)
	for _, f := range protos {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range serviceRE.FindAllStringSubmatch(string(b), -1) {
			route, ok := routes["whistle.v1."+m[1]]
			if !ok {
				t.Errorf("gateway.conf does not route whistle.v1.%s (%s)", m[1], filepath.Base(f))
				continue
			}
			if ports[route[0]] != route[1] {
				t.Errorf("gateway.conf routes whistle.v1.%s to %s:%s, which is not a service's gRPC port", m[1], route[0], route[1])
			}
		}
	}
	gw := p.Services["gateway"]
	for _, ws := range whistleServices(t) {
		if gw.DependsOn[ws.Name].Condition != types.ServiceConditionHealthy {
			t.Errorf("the gateway does not wait for %s to be healthy", ws.Name)
		}
	}
	if !strings.Contains(conf, "listen 7000;") || !hasTarget(gw, 7000) {
		t.Errorf("the gateway must listen on 7000 and publish it")
	}
}

func hasTarget(s types.ServiceConfig, port uint32) bool {
	for _, p := range s.Ports {
		if p.Target == port {
			return true
		}
	}
	return false
}

// TestComposeDevKeysFeedTheServices checks that the devkeys one-shot writes into the
// volume from which the services read their JWKS and whistlectl its config.
func TestComposeDevKeysFeedTheServices(t *testing.T) {
	p := loadCompose(t, nil)
	dk := p.Services["devkeys"]
	checkBuiltFromDockerfile(t, dk, "devkeys")
	if !parseDockerfile(t).hasStage("devkeys") {
		t.Errorf("deploy/Dockerfile has no stage devkeys, which compose builds")
	}
	var keysVolume, keysDir string
	for _, v := range dk.Volumes {
		if v.Type == types.VolumeTypeVolume && !v.ReadOnly {
			keysVolume, keysDir = v.Source, v.Target
		}
	}
	if keysVolume == "" {
		t.Fatalf("devkeys writes into no named volume")
	}
	if !slices.Contains(dk.Command, keysDir) {
		t.Errorf("devkeys command %q does not write into its volume at %s", dk.Command, keysDir)
	}
	for _, name := range []string{"intake", "dispatch", "response", "evaluation", "monitoring", "whistlectl"} {
		s := p.Services[name]
		var target string
		for _, v := range s.Volumes {
			if v.Source == keysVolume {
				target = v.Target
				if !v.ReadOnly {
					t.Errorf("%s mounts the keys volume writable: mount it read-only", name)
				}
			}
		}
		if target == "" {
			t.Errorf("%s does not mount the keys volume %s", name, keysVolume)
			continue
		}
		env := environment(s)
		switch name {
		case "whistlectl":
			if env["WHISTLE_CONFIG"] != target+"/whistlectl.yaml" {
				t.Errorf("whistlectl: WHISTLE_CONFIG %q, want %s/whistlectl.yaml", env["WHISTLE_CONFIG"], target)
			}
		default:
			if env["WHISTLE_JWKS"] != target+"/jwks.json" {
				t.Errorf("%s: WHISTLE_JWKS %q, want %s/jwks.json (what devkeys writes)", name, env["WHISTLE_JWKS"], target)
			}
		}
	}
}
