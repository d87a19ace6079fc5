package validate

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
)

// Every deployment's NATS servers define a user per service, allowed to
// publish exactly what bus.PublishAllow derives from the Go table of who
// emits which event (pkg/events), and one for the operators; each service
// logs in as its own. One rule, checked against every file that states it.

// natsOperator is the operators' NATS user (nats-box, backups).
const natsOperator = "operator"

// natsUsers are the users every deployment defines.
var natsUsers = append(slices.Clone(events.Services), natsOperator)

// wantPublish is what a user may publish, sorted.
func wantPublish(user string) []string {
	if user == natsOperator {
		return slices.Sorted(slices.Values(bus.OperatorPublishAllow()))
	}
	return bus.PublishAllow(user, bus.Config{})
}

// checkNATSPermissions checks that file defines exactly the users of
// natsUsers, each allowed to publish wantPublish(user) and denied nothing
// beyond, given each user's allow list.
func checkNATSPermissions(t *testing.T, file string, allow map[string][]string) {
	t.Helper()
	for _, user := range natsUsers {
		got, ok := allow[user]
		if !ok {
			t.Errorf("%s defines no NATS user %s", file, user)
			continue
		}
		got = slices.Sorted(slices.Values(got))
		if want := wantPublish(user); !slices.Equal(got, want) {
			t.Errorf("%s: user %s may publish %v; the Go table (bus.PublishAllow) says exactly:\n  %s",
				file, user, got, strings.Join(quoteAll(want), "\n  "))
		}
	}
	for user := range allow {
		if !slices.Contains(natsUsers, user) {
			t.Errorf("%s defines NATS user %s, which no service or operator is: remove it", file, user)
		}
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// natsServerUsers parses a nats-server configuration with the server's own
// parser and returns its users, failing the test when it takes anyone else.
func natsServerUsers(t *testing.T, file string) map[string]*server.User {
	t.Helper()
	opts, err := server.ProcessConfigFile(repoPath(strings.Split(file, "/")...))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if opts.Username != "" || opts.Authorization != "" || opts.NoAuthUser != "" || len(opts.Nkeys) > 0 {
		t.Errorf("%s: authenticate with the per-user list only (no single user, token, no_auth_user or nkeys)", file)
	}
	users := map[string]*server.User{}
	allow := map[string][]string{}
	for _, u := range opts.Users {
		users[u.Username] = u
		if u.Permissions == nil || u.Permissions.Publish == nil || len(u.Permissions.Publish.Deny) > 0 {
			t.Errorf("%s: user %s needs permissions: {publish: {allow: [...]}} and no deny list", file, u.Username)
			continue
		}
		allow[u.Username] = u.Permissions.Publish.Allow
	}
	checkNATSPermissions(t, file, allow)
	return users
}

func TestComposeNATSUsers(t *testing.T) {
	const file = "deploy/compose/nats.conf"
	users := natsServerUsers(t, file)
	p := loadCompose(t, nil)
	if secrets := p.Services["nats"].Secrets; len(secrets) > 0 {
		t.Errorf("nats mounts secrets %v: it needs none, nats.conf holds the passwords' bcrypt hashes", secrets)
	}
	for _, user := range natsUsers {
		u := users[user]
		if u == nil {
			continue
		}
		if !strings.HasPrefix(u.Password, "$2a$") {
			t.Errorf("%s: user %s's password is not a bcrypt hash: keep the password in secrets/nats_%s_password", file, user, user)
			continue
		}
		pw := strings.TrimRight(readRepoFile(t, "deploy", "compose", "secrets", "nats_"+user+"_password"), "\r\n")
		if err := bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(pw)); err != nil {
			t.Errorf("%s: user %s's hash is not of secrets/nats_%s_password: put the file's password's hash there", file, user, user)
		}
	}
	for _, svc := range events.Services {
		s := p.Services[svc]
		env := environment(s)
		if env["WHISTLE_NATS_USER"] != svc {
			t.Errorf("%s: WHISTLE_NATS_USER %q, want %q: each service logs in as its own user", svc, env["WHISTLE_NATS_USER"], svc)
		}
		want := "/run/secrets/nats_" + svc + "_password"
		if env["WHISTLE_NATS_PASSWORD_FILE"] != want || !hasSecretAt(s, want) {
			t.Errorf("%s: WHISTLE_NATS_PASSWORD_FILE %q: want %s, the secret nats_%s_password it mounts", svc,
				env["WHISTLE_NATS_PASSWORD_FILE"], want, svc)
		}
		if _, set := env["WHISTLE_NATS_PASSWORD"]; set {
			t.Errorf("%s: WHISTLE_NATS_PASSWORD is set: keep the password in its secret (environment variables show in `docker inspect`)", svc)
		}
		if u, err := url.Parse(env["WHISTLE_NATS_URL"]); err == nil && u.User != nil {
			t.Errorf("%s: WHISTLE_NATS_URL %q carries credentials", svc, env["WHISTLE_NATS_URL"])
		}
		for _, sec := range s.Secrets {
			if strings.HasPrefix(sec.Source, "nats_") && sec.Source != "nats_"+svc+"_password" {
				t.Errorf("%s mounts %s: a service gets its own NATS password only", svc, sec.Source)
			}
		}
	}
}

// TestProductionNATSUsers checks the template of a production node
// (deploy/nats/nats-server.conf), whose passwords come from its environment.
func TestProductionNATSUsers(t *testing.T) {
	for _, user := range natsUsers {
		t.Setenv("WHISTLE_NATS_"+strings.ToUpper(user)+"_PASSWORD", "pw-of-"+user)
	}
	users := natsServerUsers(t, "deploy/nats/nats-server.conf")
	for _, user := range natsUsers {
		if u := users[user]; u != nil && u.Password != "pw-of-"+user {
			t.Errorf("deploy/nats/nats-server.conf: user %s's password must be $WHISTLE_NATS_%s_PASSWORD", user, strings.ToUpper(user))
		}
	}
	if !strings.Contains(readRepoFile(t, "deploy", "nats", "nats-server.conf"), "tls {") {
		t.Error("deploy/nats/nats-server.conf: say how to turn TLS on (a tls { … } block)")
	}
}

// k8sNATSPassword matches the chart's reference to an environment variable.
var k8sNATSPassword = regexp.MustCompile(`^<<\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*>>$`)

// k8sCheckNATSUsers checks the users of the NATS values: the Go table's
// permissions; each password an environment variable of the servers, from a
// key of a secret that exists; and each service's Deployment logging in as
// its own user with that same key.
func k8sCheckNATSUsers(t *testing.T, m *k8sManifests, v k8sNATSValues) {
	const file = "deploy/k8s/nats/values.yaml"
	allow := map[string][]string{}
	secretOf := map[string]*corev1.SecretKeySelector{}
	for _, u := range v.Config.Merge.Authorization.Users {
		allow[u.User] = u.Permissions.Publish.Allow
		ref := k8sNATSPassword.FindStringSubmatch(u.Password)
		if ref == nil {
			t.Errorf("%s: user %s's password must be << $VARIABLE >> (got %q): never write a password into the values", file, u.User, u.Password)
			continue
		}
		env, ok := v.Container.Env[ref[1]]
		if !ok || env.ValueFrom == nil || env.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s: user %s's password names $%s: define container.env.%s with valueFrom.secretKeyRef", file, u.User, ref[1], ref[1])
			continue
		}
		sk := env.ValueFrom.SecretKeyRef
		if err := k8sResolve(m, k8sRef{kind: "Secret", name: sk.Name, key: sk.Key, what: "container.env." + ref[1]}); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		secretOf[u.User] = sk
	}
	checkNATSPermissions(t, file, allow)
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil || k8sContainer(d, svc) == nil || secretOf[svc] == nil {
			continue
		}
		k8sCheckNATSLogin(t, m, svc, k8sContainer(d, svc), secretOf)
	}
}

// k8sCheckNATSLogin checks that a service logs in to the chart's Service on
// port 4222 as its own user, with the password of the servers' secret key
// for that user, and no other's.
func k8sCheckNATSLogin(t *testing.T, m *k8sManifests, svc string, c *corev1.Container, secretOf map[string]*corev1.SecretKeySelector) {
	env, _ := k8sEnv(m, c)
	if raw, ok := env["WHISTLE_NATS_URL"]; ok {
		u, err := url.Parse(raw.value)
		if err != nil || u.Scheme != "nats" || u.User != nil || u.Port() != "4222" || u.Hostname() != "nats" {
			t.Errorf("Deployment %s: WHISTLE_NATS_URL %q: want nats://nats:4222 (the chart's Service; credentials in WHISTLE_NATS_USER and "+
				"WHISTLE_NATS_PASSWORD)", svc, raw.value)
		}
	}
	if user := env["WHISTLE_NATS_USER"]; user.value != svc || user.secret != nil {
		t.Errorf("Deployment %s: WHISTLE_NATS_USER %q: want %q, its own user", svc, user.value, svc)
	}
	want, pw := secretOf[svc], env["WHISTLE_NATS_PASSWORD"].secret
	if pw == nil || pw.Name != want.Name || pw.Key != want.Key {
		t.Errorf("Deployment %s: WHISTLE_NATS_PASSWORD must come from secret %s key %s, as user %s's on the NATS servers", svc,
			want.Name, want.Key, svc)
	}
	for _, name := range []string{"WHISTLE_NATS_PASSWORD_FILE", "WHISTLE_NATS_CREDS", "WHISTLE_NATS_NKEY_SEED_FILE"} {
		if _, set := env[name]; set {
			t.Errorf("Deployment %s sets %s besides WHISTLE_NATS_PASSWORD: one way to log in", svc, name)
		}
	}
}
