package validate

import (
	"fmt"
	"maps"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kinds below come from operators whose Go modules the module proxy does
// not serve (CloudNativePG) or that this module does not otherwise need
// (Prometheus Operator). Each struct holds exactly the fields deploy/k8s
// uses, with the operators' JSON names, and is decoded strictly: a field
// misspelt or not listed here fails. Add a field here when a manifest starts
// using it, after checking the operator's API reference.

// k8sCNPGCluster is a CloudNativePG Cluster (postgresql.cnpg.io/v1).
type k8sCNPGCluster struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Instances             int    `json:"instances"`
		ImageName             string `json:"imageName,omitempty"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy,omitempty"`
		PostgreSQL            struct {
			Parameters  map[string]string `json:"parameters,omitempty"`
			Synchronous *struct {
				Method         string `json:"method"`
				Number         int    `json:"number"`
				DataDurability string `json:"dataDurability,omitempty"`
			} `json:"synchronous,omitempty"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB *struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb,omitempty"`
		} `json:"bootstrap"`
		Storage    k8sCNPGStorage              `json:"storage"`
		WALStorage *k8sCNPGStorage             `json:"walStorage,omitempty"`
		Resources  corev1.ResourceRequirements `json:"resources,omitempty"`
		Affinity   struct {
			EnablePodAntiAffinity *bool  `json:"enablePodAntiAffinity,omitempty"`
			TopologyKey           string `json:"topologyKey,omitempty"`
			PodAntiAffinityType   string `json:"podAntiAffinityType,omitempty"`
		} `json:"affinity,omitempty"`
		Backup *struct {
			BarmanObjectStore *struct {
				DestinationPath string `json:"destinationPath"`
				EndpointURL     string `json:"endpointURL,omitempty"`
				S3Credentials   *struct {
					AccessKeyID     k8sCNPGSecretKey `json:"accessKeyId"`
					SecretAccessKey k8sCNPGSecretKey `json:"secretAccessKey"`
				} `json:"s3Credentials,omitempty"`
				WAL *struct {
					Compression string `json:"compression,omitempty"`
				} `json:"wal,omitempty"`
				Data *struct {
					Compression string `json:"compression,omitempty"`
				} `json:"data,omitempty"`
			} `json:"barmanObjectStore,omitempty"`
			RetentionPolicy string `json:"retentionPolicy,omitempty"`
		} `json:"backup,omitempty"`
		Monitoring struct {
			EnablePodMonitor bool `json:"enablePodMonitor"`
		} `json:"monitoring"`
	} `json:"spec"`
}

// k8sCNPGStorage is a Cluster's storage or walStorage.
type k8sCNPGStorage struct {
	Size         string  `json:"size"`
	StorageClass *string `json:"storageClass,omitempty"`
}

// k8sCNPGSecretKey names a key of a secret (CloudNativePG's SecretKeySelector).
type k8sCNPGSecretKey struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// k8sCNPGScheduledBackup is a CloudNativePG ScheduledBackup
// (postgresql.cnpg.io/v1).
type k8sCNPGScheduledBackup struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Schedule             string `json:"schedule"`
		BackupOwnerReference string `json:"backupOwnerReference,omitempty"`
		Immediate            *bool  `json:"immediate,omitempty"`
		Cluster              struct {
			Name string `json:"name"`
		} `json:"cluster"`
		Method string `json:"method,omitempty"`
	} `json:"spec"`
}

// k8sPodMonitor is a Prometheus Operator PodMonitor (monitoring.coreos.com/v1).
type k8sPodMonitor struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       struct {
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port        string           `json:"port"`
			Path        string           `json:"path,omitempty"`
			Interval    string           `json:"interval,omitempty"`
			Relabelings []k8sRelabelRule `json:"relabelings,omitempty"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// k8sRelabelRule is a Prometheus relabeling rule as the Prometheus Operator
// spells it.
type k8sRelabelRule struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// k8sRelabel applies "replace" rules (Prometheus's default action) to a
// target's labels, as Prometheus does; other actions are refused, so that a
// rule this function cannot follow is not silently skipped.
func k8sRelabel(rules []k8sRelabelRule, labels map[string]string) (map[string]string, error) {
	out := maps.Clone(labels)
	for _, r := range rules {
		if r.Action != "" && !strings.EqualFold(r.Action, "replace") {
			return nil, fmt.Errorf("relabeling action %q: only replace rules are checked here", r.Action)
		}
		sep, regex, repl := ";", "(.*)", "$1"
		if r.Separator != nil {
			sep = *r.Separator
		}
		if r.Regex != "" {
			regex = r.Regex
		}
		if r.Replacement != nil {
			repl = *r.Replacement
		}
		re, err := regexp.Compile("^(?:" + regex + ")$")
		if err != nil {
			return nil, fmt.Errorf("relabeling regex %q: %w", regex, err)
		}
		var values []string
		for _, l := range r.SourceLabels {
			values = append(values, out[l])
		}
		value := strings.Join(values, sep)
		m := re.FindStringSubmatchIndex(value)
		if m == nil || r.TargetLabel == "" {
			continue
		}
		out[r.TargetLabel] = string(re.ExpandString(nil, repl, value, m))
	}
	return out, nil
}

// k8sCNPGAppSecretKeys are the keys of the secret CloudNativePG makes for a
// cluster's application user, named "<cluster>-app".
var k8sCNPGAppSecretKeys = map[string]bool{
	"username": true, "password": true, "host": true, "port": true, "dbname": true, "uri": true,
	"jdbc-uri": true, "pgpass": true, "fqdn-uri": true, "fqdn-jdbc-uri": true,
}

// k8sCNPGAppSecret is the name CloudNativePG gives a cluster's application
// user secret.
func k8sCNPGAppSecret(cluster string) string { return fmt.Sprintf("%s-app", cluster) }

// k8sKustomization is the part of a kustomize Kustomization deploy/k8s uses.
type k8sKustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images"`
}
