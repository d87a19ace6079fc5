package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestConfigLogHidesPasswords: the configuration is logged at start without
// the passwords of the database and NATS URLs.
func TestConfigLogHidesPasswords(t *testing.T) {
	t.Parallel()
	cfg := config{DatabaseURL: "postgres://whistle:db-secret@db:5432/whistle", NATSURL: "nats://whistle:nats-secret@nats:4222"}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("starting", "config", cfg)
	for _, secret := range []string{"db-secret", "nats-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the logged configuration shows the password %q: %s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "nats://whistle:xxxxx@nats:4222") {
		t.Errorf("the NATS URL is not logged with its password masked: %s", out.String())
	}
}
