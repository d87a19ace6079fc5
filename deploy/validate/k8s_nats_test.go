package validate

import (
	"bytes"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// k8sNATSValues are the values deploy/k8s/nats/values.yaml sets for the NATS
// Helm chart (https://nats-io.github.io/k8s/helm/charts/, chart "nats",
// 1.x), with the chart's names. Decoded strictly: a key misspelt, or one the
// chart would ignore because it sits at the wrong level, fails.
type k8sNATSValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				Enabled bool   `json:"enabled"`
				Dir     string `json:"dir"`
				PVC     struct {
					Enabled          bool    `json:"enabled"`
					Size             string  `json:"size"`
					StorageClassName *string `json:"storageClassName"`
				} `json:"pvc"`
				MaxSize string `json:"maxSize,omitempty"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool `json:"enabled"`
			} `json:"memoryStore"`
			// Merge is merged into the server's jetstream {} block.
			Merge struct {
				SyncInterval string `json:"sync_interval"`
			} `json:"merge"`
		} `json:"jetstream"`
		// Merge is merged into the server configuration's top level.
		Merge struct {
			Authorization struct {
				Users []k8sNATSUser `json:"users"`
			} `json:"authorization"`
		} `json:"merge"`
	} `json:"config"`
	Container struct {
		Image struct {
			Tag string `json:"tag"`
		} `json:"image"`
		Env   map[string]k8sNATSEnv `json:"env"`
		Merge struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"merge"`
	} `json:"container"`
	PodTemplate struct {
		// TopologySpreadConstraints are keyed by topology key.
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int    `json:"maxSkew"`
			WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	PromExporter struct {
		Enabled    bool `json:"enabled"`
		PodMonitor struct {
			Enabled bool `json:"enabled"`
		} `json:"podMonitor"`
	} `json:"promExporter"`
	NATSBox struct {
		Enabled bool `json:"enabled"`
	} `json:"natsBox"`
}

// k8sNATSUser is a user of the servers' authorization block.
type k8sNATSUser struct {
	User        string `json:"user"`
	Password    string `json:"password"`
	Permissions struct {
		Publish struct {
			Allow []string `json:"allow"`
		} `json:"publish"`
	} `json:"permissions"`
}

// k8sNATSEnv is one of the chart's container.env entries: a plain value, or
// a map with valueFrom like a Kubernetes EnvVar.
type k8sNATSEnv struct {
	Value     string
	ValueFrom *corev1.EnvVarSource
}

// UnmarshalJSON reads a string or {"valueFrom": …}, strictly.
func (e *k8sNATSEnv) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		return k8sStrictJSON(data, &e.Value)
	}
	var v struct {
		ValueFrom *corev1.EnvVarSource `json:"valueFrom"`
	}
	if err := k8sStrictJSON(data, &v); err != nil {
		return fmt.Errorf("container.env entry: a string or {valueFrom: …}: %w", err)
	}
	e.ValueFrom = v.ValueFrom
	return nil
}
