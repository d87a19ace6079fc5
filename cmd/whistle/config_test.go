package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/bus"
)

// TestConfigLogHidesPasswords: the configuration is logged at start without
// the passwords of the database and NATS URLs, nor the NATS user's.
func TestConfigLogHidesPasswords(t *testing.T) {
	t.Parallel()
	cfg := config{DatabaseURL: "postgres://whistle:db-secret@db:5432/whistle", NATSURL: "nats://whistle:nats-secret@nats:4222",
		NATSUser: "intake", NATSPassword: "user-secret", SMSGatewayURL: "https://gw:gw-secret@sms.example.org/send", SMSGatewayToken: "token-secret"}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("starting", "config", cfg)
	if !strings.Contains(out.String(), `"nats_auth":{"method":"user","user":"intake"`) {
		t.Errorf("the logged configuration does not say how NATS is logged in to: %s", out.String())
	}
	for _, secret := range []string{"db-secret", "nats-secret", "user-secret", "gw-secret", "token-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the logged configuration shows the password %q: %s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "nats://whistle:xxxxx@nats:4222") {
		t.Errorf("the NATS URL is not logged with its password masked: %s", out.String())
	}
}

// TestNATSCredentialsFromTheEnvironment: WHISTLE_NATS_* make the bus
// configuration; the password file's last newline is dropped; settings
// that cannot work are refused at start, naming the variable to fix.
func TestNATSCredentialsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile, empty := filepath.Join(dir, "pw"), filepath.Join(dir, "empty")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		cfg     config
		want    bus.Auth
		wantErr string
	}{
		{"password", config{NATSUser: "intake", NATSPassword: "p"}, bus.Auth{User: "intake", Password: "p"}, ""},
		{"password file", config{NATSUser: "intake", NATSPasswordFile: pwFile}, bus.Auth{User: "intake", Password: "s3cret"}, ""},
		{"creds", config{NATSCreds: "/run/secrets/intake.creds"}, bus.Auth{CredsFile: "/run/secrets/intake.creds"}, ""},
		{"both passwords", config{NATSUser: "intake", NATSPassword: "p", NATSPasswordFile: pwFile}, bus.Auth{}, "not both"},
		{"empty password file", config{NATSUser: "intake", NATSPasswordFile: empty}, bus.Auth{}, "is empty"},
		{"missing password file", config{NATSUser: "intake", NATSPasswordFile: filepath.Join(dir, "none")}, bus.Auth{}, "WHISTLE_NATS_PASSWORD_FILE"},
		{"user alone", config{NATSUser: "intake"}, bus.Auth{}, "WHISTLE_NATS_PASSWORD"},
		{"two ways", config{NATSUser: "intake", NATSPassword: "p", NATSNKeySeedFile: "/seed"}, bus.Auth{}, "not several"},
		{"cert without key", config{NATSTLSCert: "/c.pem"}, bus.Auth{}, "WHISTLE_NATS_TLS_KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bc, err := c.cfg.natsBus()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("natsBus: %v, want an error naming %q", err, c.wantErr)
				}
				return
			}
			if err != nil || bc.Auth != c.want {
				t.Fatalf("natsBus: %+v, %v; want %+v", bc.Auth, err, c.want)
			}
		})
	}
}
