package validate

import (
	"slices"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/evalcode"
)

// Intake derives each ticket's evaluation code from its id with a server
// key and evaluation checks the codes with the same keys (pkg/evalcode), so
// every deployment gives both of them one key file, from a secret, and no
// other service has it.

// evaluationCodeKeys is the setting naming the key file.
const evaluationCodeKeys = "WHISTLE_EVALUATION_CODE_KEYS"

// evaluationCodeServices are the services that read the key file.
var evaluationCodeServices = []string{"intake", "evaluation"}

// TestComposeEvaluationCodeKeys checks that intake and evaluation, and no
// other service of the stack, read the same key file from a secret, and that
// the committed development key file is one evalcode.Load accepts.
func TestComposeEvaluationCodeKeys(t *testing.T) {
	p := loadCompose(t, nil)
	secret := "" // the secret intake and evaluation read the keys from
	for _, svc := range evaluationCodeServices {
		s := p.Services[svc]
		path := environment(s)[evaluationCodeKeys]
		name := secretAt(s, path)
		switch {
		case name == "":
			t.Errorf("%s: %s %q is no secret the service mounts: mount the secret evaluation_code_keys and set %s to "+
				"/run/secrets/evaluation_code_keys", svc, evaluationCodeKeys, path, evaluationCodeKeys)
		case secret == "":
			secret = name
		case name != secret:
			t.Errorf("%s reads the evaluation code keys from secret %s, %s from %s: give both the same secret, or codes "+
				"intake hands out fail at evaluation", svc, name, evaluationCodeServices[0], secret)
		}
	}
	for _, name := range k8sSortedKeys(p.Services) {
		if slices.Contains(evaluationCodeServices, name) {
			continue
		}
		s := p.Services[name]
		if _, set := environment(s)[evaluationCodeKeys]; set {
			t.Errorf("%s sets %s: only intake and evaluation hold the evaluation code keys; remove it", name, evaluationCodeKeys)
		}
		for _, sec := range s.Secrets {
			if sec.Source == secret {
				t.Errorf("%s mounts secret %s, the evaluation code keys: only intake and evaluation may; remove it", name, secret)
			}
		}
	}
	if secret == "" {
		return
	}
	file := p.Secrets[secret].File
	if _, err := evalcode.Load(file); err != nil {
		t.Errorf("secret %s: %v", secret, err)
	}
	if content := readRepoFile(t, "deploy", "compose", "secrets", "evaluation_code_keys"); !strings.Contains(content, "Development only") {
		t.Errorf("secrets/evaluation_code_keys does not say it is a development key: keep its comment line \"# Development only, …\"")
	}
}

// TestK8sEvaluationCodeKeys checks that the intake and evaluation
// Deployments, and no other, read the same key of the same Secret, mounted
// as a file whose path WHISTLE_EVALUATION_CODE_KEYS names.
func TestK8sEvaluationCodeKeys(t *testing.T) {
	m := k8sMustLoad(t)
	if k8sConfigValue(m, evaluationCodeKeys) != "" {
		t.Errorf("whistle-config sets %s, which every service reads: set it in the intake and evaluation Deployments' env only",
			evaluationCodeKeys)
	}
	var secret, key string // what intake and evaluation read the keys from
	for _, svc := range evaluationCodeServices {
		d := m.Deployments[svc]
		c := k8sContainer(d, svc)
		if c == nil {
			continue // TestK8sEveryServiceIsComplete and TestK8sDeployments say so
		}
		env, _ := k8sEnv(m, c)
		v := env[evaluationCodeKeys]
		if !strings.HasPrefix(v.value, "/") || v.secret != nil {
			t.Errorf("Deployment %s: %s %q: set it in env to the file of the mounted Secret whistle-evaluation-code "+
				"(/etc/whistle/evaluation-code/keys)", svc, evaluationCodeKeys, v.value)
			continue
		}
		k8sCheckMountedFile(t, m, d, c, evaluationCodeKeys, v.value)
		_, vol, rel := k8sVolumeAt(d, c, v.value)
		switch {
		case vol == nil:
			continue // k8sCheckMountedFile says so
		case vol.Secret == nil:
			t.Errorf("Deployment %s: %s %s lies in volume %s, which is no Secret: the keys are a secret", svc, evaluationCodeKeys,
				v.value, vol.Name)
		case secret == "":
			secret, key = vol.Secret.SecretName, rel
		case vol.Secret.SecretName != secret || rel != key:
			t.Errorf("Deployment %s reads the evaluation code keys from Secret %s key %s, %s from %s key %s: give both the same, "+
				"or codes intake hands out fail at evaluation", svc, vol.Secret.SecretName, rel, evaluationCodeServices[0], secret, key)
		}
	}
	for _, name := range k8sSortedKeys(m.Deployments) {
		if slices.Contains(evaluationCodeServices, name) {
			continue
		}
		d := m.Deployments[name]
		for _, c := range d.Spec.Template.Spec.Containers {
			env, _ := k8sEnv(m, &c)
			if _, set := env[evaluationCodeKeys]; set {
				t.Errorf("Deployment %s sets %s: only intake and evaluation hold the evaluation code keys; remove it", name, evaluationCodeKeys)
			}
		}
		for _, r := range k8sReferences(d) {
			if r.kind == "Secret" && r.name == secret {
				t.Errorf("Deployment %s reads Secret %s (%s), the evaluation code keys: only intake and evaluation may; remove it",
					name, secret, r.what)
			}
		}
	}
}
