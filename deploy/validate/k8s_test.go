package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The tests below check deploy/k8s without a cluster: every document decodes
// strictly into the API type of its kind, and what an operator relies on
// holds (probes, selectors, references, network paths, kustomize, the NATS
// and PostgreSQL clusters). Run them with
//
//	cd deploy && go test ./validate/ -run K8s

// k8sDefaultPorts are the gRPC and metrics ports `whistle serve` uses when
// --addr and WHISTLE_METRICS_ADDR are not given (cmd/whistle/serve.go; the
// metrics port on 127.0.0.1).
var k8sDefaultPorts = map[string][2]int32{
	"intake": {7001, 9001}, "dispatch": {7002, 9002}, "response": {7003, 9003},
	"evaluation": {7004, 9004}, "monitoring": {7005, 9005},
}

// k8sDefaultPoolSize is WHISTLE_DB_POOL_SIZE's default (cmd/whistle/config.go).
const k8sDefaultPoolSize = 8

// TestK8sManifestsDecodeStrictly decodes every document under deploy/k8s into
// the Kubernetes API type of its apiVersion and kind (or the small typed
// struct of an operator's kind), refusing unknown fields, and checks names,
// namespaces and labels with the API server's validation rules.
func TestK8sManifestsDecodeStrictly(t *testing.T) {
	m, errs := k8sLoad()
	for _, err := range errs {
		t.Error(err)
	}
	if len(m.Where) == 0 && len(errs) == 0 {
		t.Fatal("deploy/k8s holds no Kubernetes objects")
	}
}

// TestK8sEveryServiceIsComplete checks that each of the five services has its
// Deployment, Service, PodDisruptionBudget, HorizontalPodAutoscaler and
// ServiceAccount, named after it.
func TestK8sEveryServiceIsComplete(t *testing.T) {
	m := k8sMustLoad(t)
	for _, svc := range k8sServices {
		file := "deploy/k8s/" + svc + ".yaml"
		if m.Deployments[svc] == nil {
			t.Errorf("no Deployment %q: add one to %s (args [serve, %s])", svc, file, svc)
		}
		if m.Services[svc] == nil {
			t.Errorf("no Service %q: add one to %s selecting the Deployment's pods", svc, file)
		}
		if m.PDBs[svc] == nil {
			t.Errorf("no PodDisruptionBudget %q: add one to %s (minAvailable 1)", svc, file)
		}
		if m.HPAs[svc] == nil {
			t.Errorf("no HorizontalPodAutoscaler %q: add one to %s (autoscaling/v2, CPU)", svc, file)
		}
		if m.ServiceAccounts[svc] == nil {
			t.Errorf("no ServiceAccount %q: add one to %s and name it in the pod spec", svc, file)
		}
	}
	for name := range m.Deployments {
		if _, ok := k8sDefaultPorts[name]; !ok {
			t.Errorf("Deployment %q is none of the five services %v: remove it or name it after its service", name, k8sServices)
		}
	}
}

// TestK8sDeployments checks what each service's pods need: replicas, the
// serve command, gRPC probes on the port the container exposes, resources,
// a non-root read-only container, topology spread, its ServiceAccount and
// the settings `whistle serve` requires.
func TestK8sDeployments(t *testing.T) {
	m := k8sMustLoad(t)
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil {
			continue // TestK8sEveryServiceIsComplete says so
		}
		t.Run(svc, func(t *testing.T) { k8sCheckDeployment(t, m, svc, d) })
	}
}

// k8sCheckDeployment checks one service's Deployment (TestK8sDeployments).
func k8sCheckDeployment(t *testing.T, m *k8sManifests, svc string, d *appsv1.Deployment) {
	pod := d.Spec.Template.Labels
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("spec.replicas: set 2 or more, so that a restart or a node drain never takes the service away")
	}
	if !k8sSelects(d.Spec.Selector, pod) {
		t.Errorf("spec.selector %v does not match the pod template's labels %v: make them agree", d.Spec.Selector, pod)
	}
	c := k8sContainer(d, svc)
	if c == nil {
		t.Fatalf("no container named %q: name the container after the service", svc)
	}
	grpcPort, metricsPort := k8sContainerPort(c, "grpc"), k8sContainerPort(c, "metrics")
	if grpcPort == 0 || metricsPort == 0 {
		t.Fatalf("container %q must expose ports named grpc and metrics (has %v)", svc, c.Ports)
	}
	for _, p := range c.Ports {
		for _, msg := range validation.IsValidPortName(p.Name) {
			t.Errorf("container port name %q: %s", p.Name, msg)
		}
	}

	// The command: whistle serve <service> [--addr :port].
	if len(c.Args) < 2 || c.Args[0] != "serve" || c.Args[1] != svc {
		t.Errorf("args %v: must start with [serve, %s]", c.Args, svc)
	}
	listen := k8sDefaultPorts[svc][0]
	for i, a := range c.Args {
		v, ok := strings.CutPrefix(a, "--addr=")
		if a == "--addr" && i+1 < len(c.Args) {
			v, ok = c.Args[i+1], true
		}
		if ok {
			listen = k8sPortOf(v)
		}
	}
	if listen != grpcPort {
		t.Errorf("the service listens on %d (args %v) but the container port grpc is %d: make them the same", listen, c.Args, grpcPort)
	}

	// Probes: native gRPC probes (grpc.health.v1) on the gRPC port.
	probes := map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe}
	if c.StartupProbe != nil {
		probes["startupProbe"] = c.StartupProbe
	}
	for name, p := range probes {
		switch {
		case p == nil:
			t.Errorf("%s is missing: add `%s: {grpc: {port: %d}}` (the services serve grpc.health.v1)", name, name, grpcPort)
		case p.GRPC == nil || p.HTTPGet != nil || p.TCPSocket != nil || p.Exec != nil:
			t.Errorf("%s must be a grpc: probe (grpc.health.v1 on port %d), not another kind", name, grpcPort)
		case p.GRPC.Port != grpcPort:
			t.Errorf("%s probes port %d, but the container's grpc port is %d: probe %d", name, p.GRPC.Port, grpcPort, grpcPort)
		}
	}

	// Resources: requests for scheduling and the HPA's CPU utilization,
	// a memory limit (GOMEMLIMIT follows it).
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("resources.requests.%s is missing: the scheduler and the HPA (CPU utilization) need it", r)
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		t.Errorf("resources.limits.memory is missing: set one")
	}

	// Security: non-root, read-only root file system, no privileges.
	nonRoot := d.Spec.Template.Spec.SecurityContext != nil && k8sTrue(d.Spec.Template.Spec.SecurityContext.RunAsNonRoot)
	sc := c.SecurityContext
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		t.Errorf("runAsNonRoot: set securityContext.runAsNonRoot: true (pod or container)")
	}
	if sc == nil || !k8sTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("container securityContext.readOnlyRootFilesystem: set true (mount an emptyDir where files must be written)")
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container securityContext.allowPrivilegeEscalation: set false")
	}
	if sc == nil || sc.Capabilities == nil || !k8sHasCap(sc.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext.capabilities.drop: set [ALL]")
	}

	// Spread over nodes, counting this Deployment's pods.
	tsc := d.Spec.Template.Spec.TopologySpreadConstraints
	if len(tsc) == 0 {
		t.Errorf("topologySpreadConstraints: add one over kubernetes.io/hostname, so replicas land on different nodes")
	}
	for _, tc := range tsc {
		if tc.LabelSelector == nil || !k8sSelects(tc.LabelSelector, pod) {
			t.Errorf("topologySpreadConstraints (%s): labelSelector must match the pod labels %v", tc.TopologyKey, pod)
		}
	}

	// Its own ServiceAccount.
	if sa := d.Spec.Template.Spec.ServiceAccountName; sa != svc || m.ServiceAccounts[sa] == nil {
		t.Errorf("serviceAccountName %q: use the ServiceAccount %q defined beside the Deployment", sa, svc)
	}

	// Settings: what `whistle serve` needs, and consistent ports.
	env, order := k8sEnv(m, c)
	for _, name := range []string{"WHISTLE_DATABASE_URL", "WHISTLE_NATS_URL", "WHISTLE_JWKS"} {
		if _, ok := env[name]; !ok {
			t.Errorf("%s is not set: `whistle serve` needs it; set it in whistle-config, a Secret or env", name)
		}
	}
	if v, ok := env["WHISTLE_STREAM_REPLICAS"]; !ok || v.value != "3" {
		t.Errorf("WHISTLE_STREAM_REPLICAS is %q: set \"3\", one copy of each event per NATS node", v.value)
	}
	// serve's default metrics address is 127.0.0.1, which Prometheus cannot scrape: set it.
	if v, ok := env["WHISTLE_METRICS_ADDR"]; !ok || !strings.HasPrefix(v.value, ":") {
		t.Errorf("WHISTLE_METRICS_ADDR %q: set it to :%d, every interface of the pod (serve's default, 127.0.0.1, is out of Prometheus's reach)",
			v.value, metricsPort)
	} else if listen := k8sPortOf(v.value); listen != metricsPort {
		t.Errorf("metrics are served on %d (WHISTLE_METRICS_ADDR) but the container port metrics is %d: make them the same",
			listen, metricsPort)
	}
	k8sCheckEnvReferences(t, c, order)
	if v, ok := env["WHISTLE_JWKS"]; ok && strings.HasPrefix(v.value, "/") {
		k8sCheckMountedFile(t, m, d, c, "WHISTLE_JWKS", v.value)
	}
}

// TestK8sSelectorsMatchPods checks that each Service, PodDisruptionBudget
// and HorizontalPodAutoscaler reaches its own Deployment's pods, and no
// other service's.
func TestK8sSelectorsMatchPods(t *testing.T) {
	m := k8sMustLoad(t)
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil {
			continue
		}
		pod := d.Spec.Template.Labels
		c := k8sContainer(d, svc)
		if s := m.Services[svc]; s != nil {
			sel := labels.SelectorFromSet(s.Spec.Selector)
			if len(s.Spec.Selector) == 0 || !sel.Matches(labels.Set(pod)) {
				t.Errorf("Service %s: selector %v does not match the pods of Deployment %s (%v): copy the pod labels", svc, s.Spec.Selector, svc, pod)
			}
			for _, other := range k8sOtherPods(m, svc) {
				if len(s.Spec.Selector) > 0 && sel.Matches(labels.Set(other.Spec.Template.Labels)) {
					t.Errorf("Service %s also selects the pods of Deployment %s: add app.kubernetes.io/name to its selector", svc, other.Name)
				}
			}
			for _, p := range s.Spec.Ports {
				if c != nil && !k8sTargetExists(c, p.TargetPort) {
					t.Errorf("Service %s port %s: targetPort %s is not a port of container %s", svc, p.Name, p.TargetPort.String(), svc)
				}
			}
			if c != nil && !k8sServiceExposes(s, c, "grpc") {
				t.Errorf("Service %s does not expose the container's grpc port", svc)
			}
		}
		if p := m.PDBs[svc]; p != nil {
			if p.Spec.Selector == nil || !k8sSelects(p.Spec.Selector, pod) {
				t.Errorf("PodDisruptionBudget %s: selector does not match the pods of Deployment %s (%v)", svc, svc, pod)
			}
			for _, other := range k8sOtherPods(m, svc) {
				if p.Spec.Selector != nil && k8sSelects(p.Spec.Selector, other.Spec.Template.Labels) {
					t.Errorf("PodDisruptionBudget %s also counts the pods of Deployment %s: narrow its selector", svc, other.Name)
				}
			}
			if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.Type != intstr.Int || p.Spec.MinAvailable.IntVal != 1 {
				t.Errorf("PodDisruptionBudget %s: set minAvailable: 1 (with 2 replicas, one may be evicted at a time)", svc)
			}
		}
		if h := m.HPAs[svc]; h != nil {
			k8sCheckHPA(t, svc, h, d)
		}
	}
}

// k8sCheckHPA checks one service's HorizontalPodAutoscaler: its target, its
// bounds, and its CPU and consumer-lag metrics.
func k8sCheckHPA(t *testing.T, svc string, h *autoscalingv2.HorizontalPodAutoscaler, d *appsv1.Deployment) {
	ref := h.Spec.ScaleTargetRef
	if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
		t.Errorf("HorizontalPodAutoscaler %s: scaleTargetRef %s/%s %s must be apps/v1 Deployment %s", svc, ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
		t.Errorf("HorizontalPodAutoscaler %s: set minReplicas to 2 or more (it would otherwise scale to one pod)", svc)
	}
	if h.Spec.MinReplicas != nil && h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("HorizontalPodAutoscaler %s: maxReplicas %d is below minReplicas %d", svc, h.Spec.MaxReplicas, *h.Spec.MinReplicas)
	}
	var cpu, lag bool
	for _, mt := range h.Spec.Metrics {
		switch mt.Type {
		case autoscalingv2.ResourceMetricSourceType:
			if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU && mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType &&
				mt.Resource.Target.AverageUtilization != nil {
				cpu = true
			}
		case autoscalingv2.ExternalMetricSourceType:
			if mt.External != nil && mt.External.Metric.Name == "whistle_consumer_lag" {
				lag = true
				k8sCheckLagSelector(t, svc, mt.External.Metric.Selector)
				if mt.External.Target.Type != autoscalingv2.AverageValueMetricType || mt.External.Target.AverageValue == nil {
					t.Errorf("HorizontalPodAutoscaler %s: the lag target must be an averageValue (events per replica)", svc)
				}
			}
		case autoscalingv2.PodsMetricSourceType:
			if mt.Pods != nil && mt.Pods.Metric.Name == "whistle_consumer_lag" {
				lag = true
			}
		}
	}
	if !cpu {
		t.Errorf("HorizontalPodAutoscaler %s: add a Resource metric on cpu with target type Utilization", svc)
	}
	if !lag {
		t.Errorf("HorizontalPodAutoscaler %s: add an External (or Pods) metric whistle_consumer_lag (served by prometheus-adapter)", svc)
	}
}

// k8sCheckLagSelector checks that an HPA's lag metric picks the service's own
// consumers: every series carries service_name="whistle-<service>".
func k8sCheckLagSelector(t *testing.T, svc string, sel *metav1.LabelSelector) {
	want := map[string]string{"service_name": "whistle-" + svc}
	if sel == nil || !k8sSelects(sel, want) || k8sSelects(sel, map[string]string{"service_name": "whistle-other"}) {
		t.Errorf("HorizontalPodAutoscaler %s: the whistle_consumer_lag selector must pick service_name=whistle-%s (got %v)", svc, svc, sel)
	}
}

// TestK8sReferencedConfigExists checks that every ConfigMap and Secret a
// Deployment reads (envFrom, env, volumes) is defined under deploy/k8s,
// with the key read, or is the secret CloudNativePG makes for a cluster
// defined there ("<cluster>-app").
func TestK8sReferencedConfigExists(t *testing.T) {
	m := k8sMustLoad(t)
	for _, name := range k8sSortedKeys(m.Deployments) {
		d := m.Deployments[name]
		for _, ref := range k8sReferences(d) {
			if err := k8sResolve(m, ref); err != nil {
				t.Errorf("Deployment %s: %v", name, err)
			}
		}
	}
}

// TestK8sNetworkPolicies checks that the namespace denies by default and that
// each service's pods may reach NATS, PostgreSQL and DNS, take gRPC from the
// ingress controller and be scraped by Prometheus; and that the NATS and
// PostgreSQL clusters may talk among themselves.
func TestK8sNetworkPolicies(t *testing.T) {
	m := k8sMustLoad(t)
	pols := m.NetworkPolicies
	var deny bool
	for _, p := range pols {
		empty := len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0
		if empty && k8sHasType(p, networkingv1.PolicyTypeIngress) && k8sHasType(p, networkingv1.PolicyTypeEgress) &&
			len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 {
			deny = true
		}
	}
	if !deny {
		t.Errorf("no default-deny NetworkPolicy: add one with podSelector: {} and policyTypes [Ingress, Egress] and no rules")
	}
	if len(m.Clusters) == 0 {
		t.Fatalf("no CloudNativePG Cluster under deploy/k8s to check the PostgreSQL paths against (deploy/k8s/postgres/cluster.yaml)")
	}
	type path struct {
		from, to k8sPod
		proto    corev1.Protocol
		port     int32
		portName string
	}
	var paths []path
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil {
			continue
		}
		c := k8sContainer(d, svc)
		if c == nil {
			continue
		}
		pod := k8sPod{Name: "the " + svc + " pods", Namespace: k8sNamespace, NSLabels: k8sNSLabels(k8sNamespace), Labels: d.Spec.Template.Labels}
		paths = append(paths,
			path{pod, k8sNATSServerPod, corev1.ProtocolTCP, 4222, ""},
			path{pod, k8sDNSPod, corev1.ProtocolUDP, 53, ""},
			path{k8sIngressPod, pod, corev1.ProtocolTCP, k8sContainerPort(c, "grpc"), "grpc"},
			path{k8sPrometheusPod, pod, corev1.ProtocolTCP, k8sContainerPort(c, "metrics"), "metrics"},
		)
		for _, cl := range k8sSortedKeys(m.Clusters) {
			paths = append(paths, path{pod, k8sPostgresPod(cl), corev1.ProtocolTCP, 5432, ""})
		}
	}
	paths = append(paths, path{k8sNATSServerPod, k8sNATSServerPod, corev1.ProtocolTCP, 6222, ""})
	for _, cl := range k8sSortedKeys(m.Clusters) {
		paths = append(paths, path{k8sPostgresPod(cl), k8sPostgresPod(cl), corev1.ProtocolTCP, 5432, ""})
	}
	for _, p := range paths {
		if ok, why := k8sAllows(pols, k8sNamespace, p.from, p.to, p.proto, p.port, p.portName); !ok {
			t.Errorf("%s cannot reach %s on %s/%d: %s: add a rule to deploy/k8s/networkpolicies.yaml",
				p.from.Name, p.to.Name, p.proto, p.port, why)
		}
	}
}

// TestK8sMetricsAreScraped checks that every service's metrics port is
// scraped: by a PodMonitor selecting its pods on that port's name and
// labelling them job="whistle" and service="<service>", or by
// prometheus.io/* annotations naming it.
func TestK8sMetricsAreScraped(t *testing.T) {
	m := k8sMustLoad(t)
	for _, svc := range k8sServices {
		d := m.Deployments[svc]
		if d == nil || k8sContainer(d, svc) == nil {
			continue
		}
		c := k8sContainer(d, svc)
		var scraped bool
		for _, pm := range m.PodMonitors {
			if !k8sSelects(&pm.Spec.Selector, d.Spec.Template.Labels) {
				continue
			}
			for _, e := range pm.Spec.PodMetricsEndpoints {
				if k8sContainerPort(c, e.Port) == 0 {
					t.Errorf("PodMonitor %s: port %q is not a port of the %s container", pm.Metadata.Name, e.Port, svc)
					continue
				}
				scraped = true
				k8sCheckScrapeLabels(t, pm.Metadata.Name, svc, d, e.Relabelings)
			}
		}
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] == "true" {
			if p, _ := strconv.Atoi(ann["prometheus.io/port"]); int32(p) != k8sContainerPort(c, "metrics") {
				t.Errorf("Deployment %s: annotation prometheus.io/port %q is not the metrics port %d", svc, ann["prometheus.io/port"], k8sContainerPort(c, "metrics"))
			} else {
				scraped = true
			}
		}
		if !scraped {
			t.Errorf("Deployment %s: nothing scrapes its metrics: select it in podmonitor.yaml or annotate its pods", svc)
		}
	}
}

// k8sCheckScrapeLabels checks that a PodMonitor endpoint's relabelings give a
// service's series the labels deploy/observability's alerts and dashboard
// select by: job="whistle" and service="<service>".
func k8sCheckScrapeLabels(t *testing.T, monitor, svc string, d *appsv1.Deployment, rules []k8sRelabelRule) {
	target := map[string]string{"job": k8sNamespace + "/" + monitor}
	for k, v := range d.Spec.Template.Labels {
		target["__meta_kubernetes_pod_label_"+k8sPromLabelName(k)] = v
	}
	got, err := k8sRelabel(rules, target)
	if err != nil {
		t.Errorf("PodMonitor %s: %v", monitor, err)
		return
	}
	if got["job"] != "whistle" || got["service"] != svc {
		t.Errorf("PodMonitor %s labels the %s pods job=%q service=%q: relabel them to job=\"whistle\" service=%q, "+
			"which the alerts and the dashboard in deploy/observability select by", monitor, svc, got["job"], got["service"], svc)
	}
}

// k8sPromLabelName is how Prometheus's Kubernetes discovery spells a label
// name in __meta_kubernetes_pod_label_<name>.
func k8sPromLabelName(name string) string {
	return regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(name, "_")
}

// TestK8sKustomization checks that kustomization.yaml lists every manifest
// file under deploy/k8s and nothing else, never a secret template, and sets
// the one image tag of the five Deployments.
func TestK8sKustomization(t *testing.T) {
	var k k8sKustomization
	if err := k8sReadStrict(k8sKustomizationFile, &k); err != nil {
		t.Fatalf("%v: fix the field (kustomize would refuse or ignore it)", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %s/%s, want kustomize.config.k8s.io/v1beta1/Kustomization", k.APIVersion, k.Kind)
	}
	m := k8sMustLoad(t)
	if k.Namespace != k8sNamespace || m.Namespaces[k.Namespace] == nil {
		t.Errorf("kustomization.yaml: namespace %q: set %q, the Namespace namespace.yaml defines", k.Namespace, k8sNamespace)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice: keep one", r)
		}
		listed[r] = true
		if _, err := os.Stat(filepath.Join(k8sDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s, which does not exist under deploy/k8s: remove it or add the file", r)
		}
		if strings.HasSuffix(r, k8sExampleSuffix) {
			t.Errorf("kustomization.yaml lists %s, a template with placeholders: `kubectl apply -k` would write them over the real secrets; "+
				"create those by hand (see the file's comments) and remove it from resources", r)
		}
		if r == k8sNATSValuesFile {
			t.Errorf("kustomization.yaml lists %s, which is Helm values, not a manifest: remove it (helm install reads it)", r)
		}
	}
	for _, f := range m.Files {
		if !strings.HasSuffix(f, k8sExampleSuffix) && !listed[f] {
			t.Errorf("deploy/k8s/%s is not in kustomization.yaml's resources: add it (or it is never applied)", f)
		}
	}
	tags := map[string]bool{}
	for _, img := range k.Images {
		if img.NewTag == "" && img.Digest == "" {
			t.Errorf("kustomization.yaml images: %s sets neither newTag nor digest", img.Name)
		}
		tags[img.Name] = true
	}
	for _, name := range k8sSortedKeys(m.Deployments) {
		for _, c := range m.Deployments[name].Spec.Template.Spec.Containers {
			if strings.ContainsAny(c.Image, ":@") {
				t.Errorf("Deployment %s: image %q carries its own tag: name the image without it and set the tag once in kustomization.yaml images:",
					name, c.Image)
			} else if !tags[c.Image] {
				t.Errorf("Deployment %s: image %q has no entry in kustomization.yaml images: (which sets the release tag)", name, c.Image)
			}
		}
	}
}

// TestK8sNATSValues decodes deploy/k8s/nats/values.yaml strictly and checks
// the durable JetStream cluster Whistle relies on, and the users: one per
// service with the permissions the Go table derives, each service logging in
// as its own with the password the servers have (k8sCheckNATSUsers).
func TestK8sNATSValues(t *testing.T) {
	var v k8sNATSValues
	if err := k8sReadStrict(k8sNATSValuesFile, &v); err != nil {
		t.Fatalf("%v: use the chart's key names (config.cluster, config.jetstream.fileStore.pvc, …)", err)
	}
	c := v.Config
	if !c.Cluster.Enabled || c.Cluster.Replicas != 3 {
		t.Errorf("nats/values.yaml: set config.cluster.enabled: true and replicas: 3 (got %v, %d): the stream keeps three copies",
			c.Cluster.Enabled, c.Cluster.Replicas)
	}
	if !c.JetStream.Enabled || !c.JetStream.FileStore.Enabled {
		t.Errorf("nats/values.yaml: set config.jetstream.enabled and config.jetstream.fileStore.enabled: true (Whistle's stream is on file storage)")
	}
	pvc := c.JetStream.FileStore.PVC
	size, err := resource.ParseQuantity(pvc.Size)
	if !pvc.Enabled || err != nil {
		t.Errorf("nats/values.yaml: config.jetstream.fileStore.pvc: set enabled: true and a size (got %v, %q): each server needs its own volume",
			pvc.Enabled, pvc.Size)
	}
	if ms := c.JetStream.FileStore.MaxSize; ms != "" && err == nil {
		if q, err := resource.ParseQuantity(ms); err != nil || q.Cmp(size) >= 0 {
			t.Errorf("nats/values.yaml: fileStore.maxSize %q must be a size below the volume's %s", ms, pvc.Size)
		}
	}
	if c.JetStream.Merge.SyncInterval != "always" {
		t.Errorf("nats/values.yaml: set config.jetstream.merge.sync_interval: always (got %q): the default syncs every two minutes "+
			"and can lose acknowledged events on power loss", c.JetStream.Merge.SyncInterval)
	}

	// The password: an environment variable of the server container, from
	// a secret that the Deployments read as well.
	m := k8sMustLoad(t)
	if replicas := k8sConfigValue(m, "WHISTLE_STREAM_REPLICAS"); replicas != "" {
		if n, _ := strconv.Atoi(replicas); n > c.Cluster.Replicas {
			t.Errorf("WHISTLE_STREAM_REPLICAS %s exceeds the NATS cluster's %d servers", replicas, c.Cluster.Replicas)
		}
	}
	k8sCheckNATSUsers(t, m, v)
}

// TestK8sPostgresCluster checks the CloudNativePG cluster: three instances,
// synchronous commits to a standby, the whistle database and owner, a backup
// with existing credentials, the PodMonitor, a nightly base backup, and
// enough connections for every replica the HPAs may start.
func TestK8sPostgresCluster(t *testing.T) {
	m := k8sMustLoad(t)
	if len(m.Clusters) == 0 {
		t.Fatalf("no CloudNativePG Cluster: add deploy/k8s/postgres/cluster.yaml (postgresql.cnpg.io/v1 Cluster)")
	}
	for _, name := range k8sSortedKeys(m.Clusters) {
		cl := m.Clusters[name]
		s := cl.Spec
		if s.Instances < 3 {
			t.Errorf("Cluster %s: instances %d: set 3 (a primary and two standbys)", name, s.Instances)
		}
		if v := s.PostgreSQL.Parameters["synchronous_commit"]; v != "on" {
			t.Errorf("Cluster %s: postgresql.parameters.synchronous_commit is %q: set \"on\" (never off: an acknowledged whistle must survive a crash)", name, v)
		}
		if s.PostgreSQL.Synchronous == nil || s.PostgreSQL.Synchronous.Number < 1 {
			t.Errorf("Cluster %s: set postgresql.synchronous (method any, number 1) so that each commit waits for a standby", name)
		}
		if db := s.Bootstrap.InitDB; db == nil || db.Database != "whistle" || db.Owner != "whistle" {
			t.Errorf("Cluster %s: bootstrap.initdb must create database whistle owned by whistle", name)
		}
		if _, err := resource.ParseQuantity(s.Storage.Size); err != nil {
			t.Errorf("Cluster %s: storage.size %q is not a size: %v", name, s.Storage.Size, err)
		}
		if b := s.Backup; b == nil || b.BarmanObjectStore == nil || b.BarmanObjectStore.DestinationPath == "" {
			t.Errorf("Cluster %s: add backup.barmanObjectStore with a destinationPath (the object store backups go to)", name)
		} else if cred := b.BarmanObjectStore.S3Credentials; cred != nil {
			for _, sk := range []k8sCNPGSecretKey{cred.AccessKeyID, cred.SecretAccessKey} {
				if err := k8sResolve(m, k8sRef{kind: "Secret", name: sk.Name, key: sk.Key, what: "backup credentials"}); err != nil {
					t.Errorf("Cluster %s: %v", name, err)
				}
			}
		}
		if !s.Monitoring.EnablePodMonitor {
			t.Errorf("Cluster %s: set monitoring.enablePodMonitor: true", name)
		}
		k8sCheckConnections(t, m, name, s.PostgreSQL.Parameters["max_connections"])
	}
	for _, name := range k8sSortedKeys(m.ScheduledBackups) {
		b := m.ScheduledBackups[name]
		if cl := m.Clusters[b.Spec.Cluster.Name]; cl == nil || cl.Spec.Backup == nil {
			t.Errorf("ScheduledBackup %s: cluster %q is not a Cluster with a backup section under deploy/k8s", name, b.Spec.Cluster.Name)
		}
		if n := len(strings.Fields(b.Spec.Schedule)); n != 6 {
			t.Errorf("ScheduledBackup %s: schedule %q has %d fields: CloudNativePG wants six (seconds first)", name, b.Spec.Schedule, n)
		}
	}
}

// k8sCheckConnections checks that every replica the HPAs may start can have
// its full pool: sum of maxReplicas × WHISTLE_DB_POOL_SIZE, plus room for
// the operator and an operator's psql, within max_connections.
func k8sCheckConnections(t *testing.T, m *k8sManifests, cluster, maxConnections string) {
	limit := 100 // PostgreSQL's default
	if maxConnections != "" {
		n, err := strconv.Atoi(maxConnections)
		if err != nil {
			t.Errorf("Cluster %s: max_connections %q is not a number", cluster, maxConnections)
			return
		}
		limit = n
	}
	const room = 20
	var need int
	var parts []string
	for _, svc := range k8sServices {
		d, h := m.Deployments[svc], m.HPAs[svc]
		if d == nil || h == nil || k8sContainer(d, svc) == nil {
			continue
		}
		pool := k8sDefaultPoolSize
		env, _ := k8sEnv(m, k8sContainer(d, svc))
		if v, ok := env["WHISTLE_DB_POOL_SIZE"]; ok {
			pool, _ = strconv.Atoi(v.value)
		}
		need += int(h.Spec.MaxReplicas) * pool
		parts = append(parts, fmt.Sprintf("%s %d×%d", svc, h.Spec.MaxReplicas, pool))
	}
	if need+room > limit {
		t.Errorf("Cluster %s: max_connections %d is too few for %d pooled connections (%s) plus %d spare: "+
			"raise max_connections or lower maxReplicas or WHISTLE_DB_POOL_SIZE", cluster, limit, need, strings.Join(parts, ", "), room)
	}
}

// k8sContainer returns the Deployment's container named name.
func k8sContainer(d *appsv1.Deployment, name string) *corev1.Container {
	for i := range d.Spec.Template.Spec.Containers {
		if c := &d.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	return nil
}

// k8sContainerPort returns the number of the container port named name, or 0.
func k8sContainerPort(c *corev1.Container, name string) int32 {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// k8sTargetExists says whether a Service's targetPort names or numbers a
// port of the container.
func k8sTargetExists(c *corev1.Container, target intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (target.Type == intstr.String && p.Name == target.StrVal) || (target.Type == intstr.Int && p.ContainerPort == target.IntVal) {
			return true
		}
	}
	return false
}

// k8sServiceExposes says whether a Service forwards to the container port
// named name.
func k8sServiceExposes(s *corev1.Service, c *corev1.Container, name string) bool {
	for _, p := range s.Spec.Ports {
		if (p.TargetPort.Type == intstr.String && p.TargetPort.StrVal == name) ||
			(p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal == k8sContainerPort(c, name)) {
			return true
		}
	}
	return false
}

// k8sOtherPods returns the Deployments of the other services.
func k8sOtherPods(m *k8sManifests, svc string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, name := range k8sSortedKeys(m.Deployments) {
		if name != svc {
			out = append(out, m.Deployments[name])
		}
	}
	return out
}

// k8sPortOf returns the port of an address like ":7001" or "0.0.0.0:7001",
// or 0.
func k8sPortOf(addr string) int32 {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		return 0
	}
	return int32(n)
}

// k8sTrue says whether an optional bool is set and true.
func k8sTrue(b *bool) bool { return b != nil && *b }

// k8sHasCap says whether a capability list holds want.
func k8sHasCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

// k8sEnvVar is a container environment variable as the process sees it:
// a literal value (from env or a ConfigMap), or where a secret comes from.
type k8sEnvVar struct {
	value  string
	secret *corev1.SecretKeySelector
}

// k8sEnvRef matches a $(NAME) reference Kubernetes expands in env values.
var k8sEnvRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// k8sEnv returns a container's environment, envFrom ConfigMaps included
// (env wins, as in Kubernetes), and the order of env's names.
func k8sEnv(m *k8sManifests, c *corev1.Container) (map[string]k8sEnvVar, []string) {
	env := map[string]k8sEnvVar{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			if cm := m.ConfigMaps[from.ConfigMapRef.Name]; cm != nil {
				for k, v := range cm.Data {
					env[from.Prefix+k] = k8sEnvVar{value: v}
				}
			}
		}
	}
	var order []string
	for _, e := range c.Env {
		order = append(order, e.Name)
		v := k8sEnvVar{value: e.Value}
		if e.ValueFrom != nil {
			v.secret = e.ValueFrom.SecretKeyRef
			if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil && m.ConfigMaps[ref.Name] != nil {
				v.value = m.ConfigMaps[ref.Name].Data[ref.Key]
			}
		}
		env[e.Name] = v
	}
	return env, order
}

// k8sConfigValue returns a key of the ConfigMap whistle-config, or "".
func k8sConfigValue(m *k8sManifests, key string) string {
	if cm := m.ConfigMaps["whistle-config"]; cm != nil {
		return cm.Data[key]
	}
	return ""
}

// k8sCheckEnvReferences checks env names and that every $(NAME) in an env
// value names a variable defined before it (Kubernetes leaves others as they
// are, silently).
func k8sCheckEnvReferences(t *testing.T, c *corev1.Container, order []string) {
	defined := map[string]bool{}
	for _, e := range c.Env {
		for _, msg := range validation.IsEnvVarName(e.Name) {
			t.Errorf("env %q: %s", e.Name, msg)
		}
		for _, r := range k8sEnvRef.FindAllStringSubmatch(e.Value, -1) {
			if !defined[r[1]] {
				t.Errorf("env %s refers to $(%s), which is not defined above it in env: Kubernetes would pass the text unexpanded; "+
					"define %s first (env order: %v)", e.Name, r[1], r[1], order)
			}
		}
		defined[e.Name] = true
	}
}

// k8sCheckMountedFile checks that the file a setting names is inside a
// mounted volume and, for a Secret or ConfigMap volume defined under
// deploy/k8s, that the key exists.
func k8sCheckMountedFile(t *testing.T, m *k8sManifests, d *appsv1.Deployment, c *corev1.Container, setting, path string) {
	vm, v, rel := k8sVolumeAt(d, c, path)
	switch {
	case vm == nil:
		t.Errorf("%s is %s, which lies in no volume mounted into the container: mount the Secret holding it there", setting, path)
		return
	case v == nil:
		t.Errorf("%s: volume mount %s names no volume of the pod", setting, vm.Name)
		return
	}
	if vm.SubPath != "" {
		t.Errorf("%s: volume %s is mounted with subPath: updates of the keys never reach the pod; mount the whole volume", setting, vm.Name)
	}
	var err error
	switch {
	case v.Secret != nil:
		err = k8sResolve(m, k8sRef{kind: "Secret", name: v.Secret.SecretName, key: rel, what: setting})
	case v.ConfigMap != nil:
		err = k8sResolve(m, k8sRef{kind: "ConfigMap", name: v.ConfigMap.Name, key: rel, what: setting})
	}
	if err != nil {
		t.Errorf("%s %s: %v", setting, path, err)
	}
}

// k8sVolumeAt finds where a container reads the file at path: the volume
// mount holding it (nil when none does), the pod's volume of that mount (nil
// when the pod has none of its name), and the path within the volume.
func k8sVolumeAt(d *appsv1.Deployment, c *corev1.Container, path string) (*corev1.VolumeMount, *corev1.Volume, string) {
	for i, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		volumes := d.Spec.Template.Spec.Volumes
		for j := range volumes {
			if volumes[j].Name == vm.Name {
				return &c.VolumeMounts[i], &volumes[j], rel
			}
		}
		return &c.VolumeMounts[i], nil, rel
	}
	return nil, nil, ""
}

// k8sRef is a ConfigMap or Secret a pod reads, and the key if one.
type k8sRef struct {
	kind, name, key string
	optional        bool
	what            string // where the reference is, for messages
}

// k8sReferences lists the ConfigMaps and Secrets a Deployment reads.
func k8sReferences(d *appsv1.Deployment) []k8sRef {
	var refs []k8sRef
	spec := d.Spec.Template.Spec
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, f := range c.EnvFrom {
			if f.ConfigMapRef != nil {
				refs = append(refs, k8sRef{kind: "ConfigMap", name: f.ConfigMapRef.Name, optional: k8sTrue(f.ConfigMapRef.Optional), what: "envFrom"})
			}
			if f.SecretRef != nil {
				refs = append(refs, k8sRef{kind: "Secret", name: f.SecretRef.Name, optional: k8sTrue(f.SecretRef.Optional), what: "envFrom"})
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				refs = append(refs, k8sRef{kind: "ConfigMap", name: r.Name, key: r.Key, optional: k8sTrue(r.Optional), what: "env " + e.Name})
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				refs = append(refs, k8sRef{kind: "Secret", name: r.Name, key: r.Key, optional: k8sTrue(r.Optional), what: "env " + e.Name})
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			refs = append(refs, k8sRef{kind: "Secret", name: v.Secret.SecretName, optional: k8sTrue(v.Secret.Optional), what: "volume " + v.Name})
		}
		if v.ConfigMap != nil {
			refs = append(refs, k8sRef{kind: "ConfigMap", name: v.ConfigMap.Name, optional: k8sTrue(v.ConfigMap.Optional), what: "volume " + v.Name})
		}
	}
	return refs
}

// k8sResolve finds what a reference names under deploy/k8s; CloudNativePG's
// "<cluster>-app" secret counts for each Cluster defined there.
func k8sResolve(m *k8sManifests, r k8sRef) error {
	if r.optional {
		return nil
	}
	switch r.kind {
	case "ConfigMap":
		cm := m.ConfigMaps[r.name]
		if cm == nil {
			return fmt.Errorf("%s reads ConfigMap %q, which deploy/k8s does not define: add it or fix the name", r.what, r.name)
		}
		if _, ok := cm.Data[r.key]; r.key != "" && !ok {
			if _, ok := cm.BinaryData[r.key]; !ok {
				return fmt.Errorf("%s reads key %q of ConfigMap %q, which has no such key", r.what, r.key, r.name)
			}
		}
	case "Secret":
		for _, cl := range k8sSortedKeys(m.Clusters) {
			if r.name == k8sCNPGAppSecret(cl) {
				if r.key != "" && !k8sCNPGAppSecretKeys[r.key] {
					return fmt.Errorf("%s reads key %q of %q, CloudNativePG's secret for cluster %s, which has no such key (it has uri, username, password, …)",
						r.what, r.key, r.name, cl)
				}
				return nil
			}
		}
		s := m.Secrets[r.name]
		if s == nil {
			return fmt.Errorf("%s reads Secret %q, which is neither in deploy/k8s/secrets.example.yaml nor made by CloudNativePG "+
				"(<cluster>-app): add a template for it or fix the name", r.what, r.name)
		}
		_, inData := s.Data[r.key]
		_, inString := s.StringData[r.key]
		if r.key != "" && !inData && !inString {
			return fmt.Errorf("%s reads key %q of Secret %q, whose template has no such key: add it", r.what, r.key, r.name)
		}
	}
	return nil
}
