package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// TestOpenReadsAWhistleDevDataFolder opens a deployment from the files a
// `whistle dev` writes: endpoints.json and whistlectl.yaml with its key.
func TestOpenReadsAWhistleDevDataFolder(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	key, _, err := auth.NewDevKey(filepath.Join(data, "auth"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(data, "whistlectl.yaml"), "addr: 127.0.0.1:1\nsigning_key: auth/"+filepath.Base(key)+"\ncity: hh\n")
	write(t, filepath.Join(data, "endpoints.json"),
		`{"grpc":"127.0.0.1:7777","postgres":"host=/tmp dbname=whistle","nats":"nats://127.0.0.1:4333","pid":4242,`+
			`"nats_users":{"bench":"floor-pw","operator":"op-pw"}}`)
	d, err := Open(context.Background(), Target{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tests := []struct{ name, got, want string }{
		{"address from the endpoints", d.Describe, "whistle dev on 127.0.0.1:7777"},
		{"city", d.City, "hh"},
		{"postgres", d.DatabaseURL, "host=/tmp dbname=whistle"},
		{"nats", d.NATSURL, "nats://127.0.0.1:4333"},
		{"processes", names(d.Processes), "whistle dev,postgres"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if len(d.NATSOptions) != 1 {
		t.Errorf("NATS options %d: want the floor user's credentials from endpoints.json", len(d.NATSOptions))
	}
	if pid := d.Processes[0].PID(); pid != 4242 {
		t.Errorf("dev pid %d, want 4242", pid)
	}
}

func TestOpenSaysWhatCredentialsItNeeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"no key", Target{Addr: "127.0.0.1:1", City: "hh"}, "needs the signing key"},
		{"no data folder", Target{Data: filepath.Join(t.TempDir(), "none")}, "is `whistle dev --data"},
		{"no config file", Target{Config: filepath.Join(t.TempDir(), "none.yaml")}, "check --config"},
		{"a bad key", Target{Addr: "127.0.0.1:1", City: "hh", SigningKey: filepath.Join(t.TempDir(), "none.json")}, "check --signing-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(context.Background(), tc.t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func names(ps []Process) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}
