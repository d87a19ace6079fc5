package validate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// k8sDir is deploy/k8s, seen from this package's folder (go test runs in it).
const k8sDir = "../k8s"

// Files under deploy/k8s that are not Kubernetes objects or are not applied
// by kustomize, each with its own test.
const (
	k8sKustomizationFile = "kustomization.yaml"
	k8sNATSValuesFile    = "nats/values.yaml"
	// k8sExampleSuffix marks templates applied by hand (secrets), which
	// kustomization.yaml must not list.
	k8sExampleSuffix = ".example.yaml"
)

// k8sNamespace is the namespace everything runs in (namespace.yaml,
// kustomization.yaml).
const k8sNamespace = "whistle"

// k8sServices are the five services, each with its Deployment, Service,
// PodDisruptionBudget, HorizontalPodAutoscaler and ServiceAccount of that name.
var k8sServices = []string{"intake", "dispatch", "response", "evaluation", "monitoring"}

// k8sManifests holds every object under deploy/k8s, decoded into its type.
type k8sManifests struct {
	Namespaces       map[string]*corev1.Namespace
	ConfigMaps       map[string]*corev1.ConfigMap
	Secrets          map[string]*corev1.Secret
	ServiceAccounts  map[string]*corev1.ServiceAccount
	Services         map[string]*corev1.Service
	Deployments      map[string]*appsv1.Deployment
	PDBs             map[string]*policyv1.PodDisruptionBudget
	HPAs             map[string]*autoscalingv2.HorizontalPodAutoscaler
	NetworkPolicies  map[string]*networkingv1.NetworkPolicy
	Clusters         map[string]*k8sCNPGCluster
	ScheduledBackups map[string]*k8sCNPGScheduledBackup
	PodMonitors      map[string]*k8sPodMonitor
	// Files are the manifest files read, relative to deploy/k8s.
	Files []string
	// Where says in which file and document each "Kind/name" is.
	Where map[string]string
}

// k8sKind says how to decode one apiVersion/kind and where to keep it.
type k8sKind struct {
	new   func() any
	store func(m *k8sManifests, name string, obj any)
}

// k8sKinds are the kinds deploy/k8s may hold. Anything else is an error: a
// typo in apiVersion or kind would otherwise go unchecked.
var k8sKinds = map[string]k8sKind{
	"v1/Namespace": {func() any { return &corev1.Namespace{} },
		func(m *k8sManifests, n string, o any) { m.Namespaces[n] = o.(*corev1.Namespace) }},
	"v1/ConfigMap": {func() any { return &corev1.ConfigMap{} },
		func(m *k8sManifests, n string, o any) { m.ConfigMaps[n] = o.(*corev1.ConfigMap) }},
	"v1/Secret": {func() any { return &corev1.Secret{} },
		func(m *k8sManifests, n string, o any) { m.Secrets[n] = o.(*corev1.Secret) }},
	"v1/ServiceAccount": {func() any { return &corev1.ServiceAccount{} },
		func(m *k8sManifests, n string, o any) { m.ServiceAccounts[n] = o.(*corev1.ServiceAccount) }},
	"v1/Service": {func() any { return &corev1.Service{} },
		func(m *k8sManifests, n string, o any) { m.Services[n] = o.(*corev1.Service) }},
	"apps/v1/Deployment": {func() any { return &appsv1.Deployment{} },
		func(m *k8sManifests, n string, o any) { m.Deployments[n] = o.(*appsv1.Deployment) }},
	"policy/v1/PodDisruptionBudget": {func() any { return &policyv1.PodDisruptionBudget{} },
		func(m *k8sManifests, n string, o any) { m.PDBs[n] = o.(*policyv1.PodDisruptionBudget) }},
	"autoscaling/v2/HorizontalPodAutoscaler": {func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
		func(m *k8sManifests, n string, o any) { m.HPAs[n] = o.(*autoscalingv2.HorizontalPodAutoscaler) }},
	"networking.k8s.io/v1/NetworkPolicy": {func() any { return &networkingv1.NetworkPolicy{} },
		func(m *k8sManifests, n string, o any) { m.NetworkPolicies[n] = o.(*networkingv1.NetworkPolicy) }},
	"postgresql.cnpg.io/v1/Cluster": {func() any { return &k8sCNPGCluster{} },
		func(m *k8sManifests, n string, o any) { m.Clusters[n] = o.(*k8sCNPGCluster) }},
	"postgresql.cnpg.io/v1/ScheduledBackup": {func() any { return &k8sCNPGScheduledBackup{} },
		func(m *k8sManifests, n string, o any) { m.ScheduledBackups[n] = o.(*k8sCNPGScheduledBackup) }},
	"monitoring.coreos.com/v1/PodMonitor": {func() any { return &k8sPodMonitor{} },
		func(m *k8sManifests, n string, o any) { m.PodMonitors[n] = o.(*k8sPodMonitor) }},
}

// k8sDocSeparator splits a file into YAML documents.
var k8sDocSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// k8sLoad reads and strictly decodes every manifest under deploy/k8s. It
// returns what it could decode and one error per problem found.
func k8sLoad() (*k8sManifests, []error) {
	m := &k8sManifests{
		Namespaces: map[string]*corev1.Namespace{}, ConfigMaps: map[string]*corev1.ConfigMap{},
		Secrets: map[string]*corev1.Secret{}, ServiceAccounts: map[string]*corev1.ServiceAccount{},
		Services: map[string]*corev1.Service{}, Deployments: map[string]*appsv1.Deployment{},
		PDBs: map[string]*policyv1.PodDisruptionBudget{}, HPAs: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		NetworkPolicies: map[string]*networkingv1.NetworkPolicy{}, Clusters: map[string]*k8sCNPGCluster{},
		ScheduledBackups: map[string]*k8sCNPGScheduledBackup{}, PodMonitors: map[string]*k8sPodMonitor{},
		Where: map[string]string{},
	}
	files, err := k8sYAMLFiles()
	if err != nil {
		return m, []error{err}
	}
	var errs []error
	for _, rel := range files {
		if rel == k8sKustomizationFile || rel == k8sNATSValuesFile {
			continue
		}
		m.Files = append(m.Files, rel)
		data, err := os.ReadFile(filepath.Join(k8sDir, rel))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, doc := range k8sDocSeparator.Split(string(data), -1) {
			if err := m.decode(rel, i+1, []byte(doc)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return m, errs
}

// decode decodes one YAML document of file rel (the n-th) and stores it.
func (m *k8sManifests) decode(rel string, n int, doc []byte) error {
	at := fmt.Sprintf("deploy/k8s/%s, document %d", rel, n)
	var probe map[string]any
	if err := yaml.Unmarshal(doc, &probe); err != nil {
		return fmt.Errorf("%s: not YAML: %w", at, err)
	}
	if probe == nil {
		return nil // only comments
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil || tm.APIVersion == "" || tm.Kind == "" {
		return fmt.Errorf("%s: every document needs apiVersion and kind", at)
	}
	key := tm.APIVersion + "/" + tm.Kind
	kind, ok := k8sKinds[key]
	if !ok {
		return fmt.Errorf("%s: %s is not a kind deploy/k8s may hold (typo in apiVersion or kind?); known: %s",
			at, key, strings.Join(k8sKindNames(), ", "))
	}
	obj := kind.new()
	if err := k8sUnmarshalStrict(doc, obj); err != nil {
		return fmt.Errorf("%s (%s): %w: remove or correct the field (the API server would refuse or drop it)", at, key, err)
	}
	meta, err := k8sObjectMeta(obj)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	if err := k8sCheckMeta(tm.Kind, meta); err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	id := tm.Kind + "/" + meta.Name
	if prev, dup := m.Where[id]; dup {
		return fmt.Errorf("%s: %s is defined twice (also in %s): keep one", at, id, prev)
	}
	m.Where[id] = at
	kind.store(m, meta.Name, obj)
	return nil
}

// k8sObjectMeta returns an object's metadata.
func k8sObjectMeta(obj any) (*metav1.ObjectMeta, error) {
	switch o := obj.(type) {
	case metav1.Object:
		return &metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels()}, nil
	case *k8sCNPGCluster:
		return &o.Metadata, nil
	case *k8sCNPGScheduledBackup:
		return &o.Metadata, nil
	case *k8sPodMonitor:
		return &o.Metadata, nil
	}
	return nil, fmt.Errorf("no metadata in %T", obj)
}

// k8sCheckMeta checks names, namespace and labels with the API server's own
// rules (k8s.io/apimachinery/pkg/util/validation).
func k8sCheckMeta(kind string, meta *metav1.ObjectMeta) error {
	var problems []string
	if meta.Name == "" {
		problems = append(problems, "metadata.name is missing")
	} else {
		// Services and Namespaces need DNS labels; the rest here DNS subdomains,
		// but labels keep names usable as Service and container names too.
		problems = append(problems, validation.IsDNS1123Label(meta.Name)...)
	}
	if meta.Namespace != "" && meta.Namespace != k8sNamespace {
		problems = append(problems, fmt.Sprintf("namespace %q: leave it out (kustomization.yaml sets %q) or use %q",
			meta.Namespace, k8sNamespace, k8sNamespace))
	}
	problems = append(problems, k8sCheckLabels(meta.Labels)...)
	if len(problems) > 0 {
		return fmt.Errorf("%s %q: %s", kind, meta.Name, strings.Join(problems, "; "))
	}
	return nil
}

// k8sCheckLabels checks label keys and values.
func k8sCheckLabels(labels map[string]string) []string {
	var problems []string
	for k, v := range labels {
		for _, p := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, p))
		}
		for _, p := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Sprintf("label %s value %q: %s", k, v, p))
		}
	}
	sort.Strings(problems)
	return problems
}

// k8sKindNames lists the known kinds, for messages.
func k8sKindNames() []string {
	var names []string
	for k := range k8sKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// k8sYAMLFiles lists the YAML files under deploy/k8s, relative to it, with
// forward slashes.
func k8sYAMLFiles() ([]string, error) {
	var files []string
	err := filepath.WalkDir(k8sDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		rel, err := filepath.Rel(k8sDir, path)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deploy/k8s: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("deploy/k8s holds no YAML files")
	}
	sort.Strings(files)
	return files, nil
}

// k8sMustLoad loads the manifests, or stops the test when they do not decode
// (TestK8sManifestsDecodeStrictly says why).
func k8sMustLoad(t *testing.T) *k8sManifests {
	t.Helper()
	m, errs := k8sLoad()
	if len(errs) > 0 {
		t.Fatalf("deploy/k8s does not decode (%d problem(s); TestK8sManifestsDecodeStrictly lists them), first: %v",
			len(errs), errs[0])
	}
	return m
}

// k8sUnmarshalStrict decodes one YAML document into v as the API server
// does with strict field validation: field names match case-sensitively, and
// unknown or duplicate fields are errors.
func k8sUnmarshalStrict(doc []byte, v any) error {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	return k8sStrictJSON(data, v)
}

// k8sStrictJSON decodes JSON into v like k8sUnmarshalStrict.
func k8sStrictJSON(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// k8sReadStrict reads a YAML file under deploy/k8s strictly into v.
func k8sReadStrict(rel string, v any) error {
	data, err := os.ReadFile(filepath.Join(k8sDir, rel))
	if err != nil {
		return err
	}
	if err := k8sUnmarshalStrict(data, v); err != nil {
		return fmt.Errorf("deploy/k8s/%s: %w", rel, err)
	}
	return nil
}
