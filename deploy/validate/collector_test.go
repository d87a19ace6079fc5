package validate

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var collectorFile = []string{"deploy", "observability", "otel-collector.yaml"}

// collectorConfig is the OpenTelemetry Collector's configuration: the
// sections decoded strictly, so that a misspelt section is an error.
type collectorConfig struct {
	Extensions map[string]map[string]any `json:"extensions"`
	Receivers  map[string]map[string]any `json:"receivers"`
	Processors map[string]map[string]any `json:"processors"`
	Exporters  map[string]map[string]any `json:"exporters"`
	Connectors map[string]map[string]any `json:"connectors"`
	Service    struct {
		Extensions []string                     `json:"extensions"`
		Telemetry  collectorTelemetry           `json:"telemetry"`
		Pipelines  map[string]collectorPipeline `json:"pipelines"`
	} `json:"service"`
}

type collectorTelemetry struct {
	Logs    map[string]any `json:"logs"`
	Metrics struct {
		Level   string `json:"level"`
		Readers []struct {
			Pull *struct {
				Exporter struct {
					Prometheus struct {
						Host string `json:"host"`
						Port int    `json:"port"`
					} `json:"prometheus"`
				} `json:"exporter"`
			} `json:"pull"`
		} `json:"readers"`
	} `json:"metrics"`
}

type collectorPipeline struct {
	Receivers  []string `json:"receivers"`
	Processors []string `json:"processors"`
	Exporters  []string `json:"exporters"`
}

// collectorComponents are the component types this configuration may use:
// those of the otel/opentelemetry-collector-contrib release compose pins
// (0.161: the OTLP gRPC exporter is otlp_grpc since 0.144). Add a type here
// only after checking the pinned release has it.
var collectorComponents = map[string][]string{
	"extensions": {"health_check"},
	"receivers":  {"otlp"},
	"processors": {"memory_limiter", "batch"},
	"exporters":  {"otlp_grpc", "otlp_http", "prometheus", "debug"},
}

func loadCollector(t testing.TB) collectorConfig {
	t.Helper()
	var c collectorConfig
	if err := yaml.UnmarshalStrict([]byte(readRepoFile(t, collectorFile...)), &c); err != nil {
		t.Fatalf("%s: %v", filepath.Join(collectorFile...), err)
	}
	return c
}

// componentType returns the type of a component id "type[/name]".
func componentType(id string) string { typ, _, _ := strings.Cut(id, "/"); return typ }

// TestCollectorPipelinesUseDefinedComponents checks that every pipeline of the collector
// uses defined components of known types, memory_limiter first, and batches.
func TestCollectorPipelinesUseDefinedComponents(t *testing.T) {
	c := loadCollector(t)
	sections := map[string]map[string]map[string]any{"extensions": c.Extensions, "receivers": c.Receivers,
		"processors": c.Processors, "exporters": c.Exporters}
	for kind, defined := range sections {
		for id := range defined {
			if !slices.Contains(collectorComponents[kind], componentType(id)) {
				t.Errorf("%s %q: type %q is not one the pinned collector is known to have (%v)", kind, id, componentType(id), collectorComponents[kind])
			}
		}
	}
	for _, id := range c.Service.Extensions {
		if _, ok := c.Extensions[id]; !ok {
			t.Errorf("service.extensions names %q, which extensions does not define", id)
		}
	}
	if len(c.Service.Pipelines) == 0 {
		t.Fatal("the collector has no pipelines")
	}
	used := map[string]bool{}
	for name, p := range c.Service.Pipelines {
		if signal := componentType(name); signal != "traces" && signal != "metrics" && signal != "logs" {
			t.Errorf("pipeline %q: its type must be traces, metrics or logs", name)
		}
		for kind, ids := range map[string][]string{"receivers": p.Receivers, "processors": p.Processors, "exporters": p.Exporters} {
			if len(ids) == 0 && kind != "processors" {
				t.Errorf("pipeline %s has no %s", name, kind)
			}
			for _, id := range ids {
				used[kind+"/"+id] = true
				if _, ok := sections[kind][id]; !ok {
					t.Errorf("pipeline %s uses %s %q, which is not defined", name, strings.TrimSuffix(kind, "s"), id)
				}
			}
		}
		if len(p.Processors) == 0 || componentType(p.Processors[0]) != "memory_limiter" {
			t.Errorf("pipeline %s: memory_limiter must be its first processor (it refuses data before memory runs out), got %v", name, p.Processors)
		}
		if !slices.ContainsFunc(p.Processors, func(id string) bool { return componentType(id) == "batch" }) {
			t.Errorf("pipeline %s does not batch", name)
		}
	}
	for kind, defined := range sections {
		if kind == "extensions" {
			continue
		}
		for id := range defined {
			if !used[kind+"/"+id] {
				t.Errorf("%s %q is defined but no pipeline uses it", strings.TrimSuffix(kind, "s"), id)
			}
		}
	}
	if _, ok := c.Service.Pipelines["traces"]; !ok {
		t.Errorf("no traces pipeline: the services' spans would go nowhere")
	}
	if _, ok := c.Service.Pipelines["metrics"]; !ok {
		t.Errorf("no metrics pipeline")
	}
}

// TestCollectorFitsTheStack checks that the services send OTLP to the collector's
// receiver and the collector sends traces on to Jaeger, with this file as config.
func TestCollectorFitsTheStack(t *testing.T) {
	c := loadCollector(t)
	p := loadCompose(t, nil)

	// The services send to the OTLP receiver's gRPC port.
	grpcEndpoint := nestedString(c.Receivers["otlp"], "protocols", "grpc", "endpoint")
	_, grpcPort, err := net.SplitHostPort(grpcEndpoint)
	if err != nil {
		t.Fatalf("receivers.otlp.protocols.grpc.endpoint %q: %v", grpcEndpoint, err)
	}
	if host, _, _ := net.SplitHostPort(grpcEndpoint); host != "0.0.0.0" {
		t.Errorf("the OTLP receiver listens on %q: other containers reach only 0.0.0.0", grpcEndpoint)
	}
	for _, ws := range whistleServices(t) {
		env := environment(p.Services[ws.Name])
		u, err := url.Parse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
		if err != nil || u.Hostname() != "otel-collector" || u.Port() != grpcPort || env["OTEL_EXPORTER_OTLP_PROTOCOL"] != "grpc" {
			t.Errorf("%s sends OTLP to %q (%s), want http://otel-collector:%s over grpc",
				ws.Name, env["OTEL_EXPORTER_OTLP_ENDPOINT"], env["OTEL_EXPORTER_OTLP_PROTOCOL"], grpcPort)
		}
	}

	// Traces go on to Jaeger's OTLP port.
	for _, id := range c.Service.Pipelines["traces"].Exporters {
		endpoint := nestedString(c.Exporters[id], "endpoint")
		host, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			t.Errorf("exporter %s: endpoint %q: %v", id, endpoint, err)
			continue
		}
		if _, ok := p.Services[host]; !ok {
			t.Errorf("exporter %s sends to %s, which is no service of the compose stack", id, host)
		}
		if host == "jaeger" && port != "4317" {
			t.Errorf("exporter %s sends to jaeger:%s; Jaeger takes OTLP gRPC on 4317", id, port)
		}
	}
	// The collector runs this file: it is mounted where --config points.
	oc := p.Services["otel-collector"]
	mounted := ""
	for _, v := range oc.Volumes {
		if filepath.Clean(v.Source) == filepath.Clean(repoPath(collectorFile...)) {
			mounted = v.Target
		}
	}
	if mounted == "" || !slices.Contains(oc.Command, "--config="+mounted) {
		t.Errorf("otel-collector mounts %s at %q and runs %q: mount it where --config= points",
			filepath.Join(collectorFile...), mounted, oc.Command)
	}
}

// collectorMetricPorts returns the ports the collector serves Prometheus
// metrics on: its own telemetry, and its prometheus exporters.
func collectorMetricPorts(t testing.TB) []string {
	c := loadCollector(t)
	var ports []string
	for _, r := range c.Service.Telemetry.Metrics.Readers {
		if r.Pull != nil {
			ports = append(ports, fmt.Sprint(r.Pull.Exporter.Prometheus.Port))
		}
	}
	for id, cfg := range c.Exporters {
		if componentType(id) == "prometheus" {
			if _, port, err := net.SplitHostPort(nestedString(cfg, "endpoint")); err == nil {
				ports = append(ports, port)
			}
		}
	}
	if len(ports) == 0 {
		t.Fatalf("the collector serves no Prometheus metrics")
	}
	return ports
}

// nestedString returns m[k1][k2]… as a string, "" when absent.
func nestedString(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}
