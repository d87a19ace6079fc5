package validate

import (
	"testing"

	"github.com/whistle-civic/whistle/pkg/events"
)

// checkServeSettings checks what `whistle serve` decides at start from a
// service's environment: it refuses plain text unless told that something
// else encrypts (WHISTLE_INSECURE=true) or given a certificate, and the
// deployments keep reflection and the health checks' details off.
func checkServeSettings(t *testing.T, where string, env map[string]string) {
	t.Helper()
	if env["WHISTLE_TLS_CERT"] == "" && env["WHISTLE_INSECURE"] != "true" {
		t.Errorf("%s: neither WHISTLE_TLS_CERT nor WHISTLE_INSECURE=true: `whistle serve` would refuse to start", where)
	}
	if env["WHISTLE_TLS_CERT"] != "" && env["WHISTLE_TLS_KEY"] == "" {
		t.Errorf("%s: WHISTLE_TLS_CERT without WHISTLE_TLS_KEY", where)
	}
	for _, name := range []string{"WHISTLE_REFLECTION", "WHISTLE_HEALTH_DETAILS", "WHISTLE_PPROF"} {
		if v := env[name]; v != "" && v != "false" {
			t.Errorf("%s: %s=%s: keep it off in a deployment (turn it on by hand while you need it)", where, name, v)
		}
	}
}

func TestComposeServeSettings(t *testing.T) {
	p := loadCompose(t, nil)
	for _, svc := range events.Services {
		checkServeSettings(t, "compose service "+svc, environment(p.Services[svc]))
	}
}

func TestK8sServeSettings(t *testing.T) {
	m := k8sMustLoad(t)
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil || k8sContainer(d, svc) == nil {
			continue
		}
		vars, _ := k8sEnv(m, k8sContainer(d, svc))
		env := map[string]string{}
		for name, v := range vars {
			env[name] = v.value
		}
		checkServeSettings(t, "Deployment "+svc, env)
	}
}
