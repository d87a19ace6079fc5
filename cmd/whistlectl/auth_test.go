package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// runLine runs a whole command line (no --addr or --config added).
func runLine(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// wantErr fails the test unless err mentions every one of wants.
func wantErr(t *testing.T, what string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, wants)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v\nwant it to mention %q", what, err, w)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	r := startStack(t)
	bare := writeConfig(t, "addr: "+r.Addr+"\n") // no credentials at all
	number, _ := reportIn(t, r.Addr, "tok-1", "road_damage", "xc-hd-dj-g01")

	out, errOut, err := runLine("--config", bare, "token", "--key", r.KeyFile, "--role", "monitor", "--org-unit", r.City, "--ttl", "10m")
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	tok := strings.TrimSpace(out)
	if org, roles, ok := peekClaims(tok); !ok || org != r.City || !slices.Equal(roles, []string{"monitor"}) {
		t.Fatalf("minted token claims %q %v (%v), printed %q", org, roles, ok, out)
	}
	if !strings.Contains(errOut, "acting for "+r.City) || !strings.Contains(errOut, "valid until") {
		t.Errorf("token says on stderr: %q", errOut)
	}
	// The stack accepts it: the city's monitor lists the ticket, with no signing key around.
	if out, _, err := runLine("--config", bare, "--token", tok, "tickets"); err != nil || !strings.Contains(out, number) {
		t.Fatalf("tickets with the minted token: %v\n%s", err, out)
	}
	// The key defaults to the configured one, the subject to the role and org unit.
	out, _, err = runLine(ctlArgs(r.Addr, "token", "--role", "reporter", "--org-unit", "xc-hd-dj-g01")...)
	if org, roles, ok := peekClaims(strings.TrimSpace(out)); err != nil || !ok || org != "xc-hd-dj-g01" || !slices.Equal(roles, []string{"reporter"}) {
		t.Fatalf("token with the configured key: %v %q %v", err, org, roles)
	}
	// A token whose role may not make the call: the error says whose it is.
	_, _, err = runLine("--config", bare, "--token", strings.TrimSpace(out), "counts")
	wantErr(t, "counts as a reporter", err, "not allowed: ", "may not call MonitoringService.GetCounts",
		"your token acts for xc-hd-dj-g01 with roles reporter; use a token for the right org unit and role")

	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"unknown role", []string{"--key", r.KeyFile, "--role", "mayor", "--org-unit", "hh"},
			[]string{`--role "mayor": not a role: choose one of reporter, community_officer`}},
		{"resident", []string{"--key", r.KeyFile, "--role", "resident", "--org-unit", "hh"}, []string{"residents need no token", "--code"}},
		{"no role", []string{"--key", r.KeyFile, "--org-unit", "hh"}, []string{"--role, one of reporter"}},
		{"no org unit", []string{"--key", r.KeyFile, "--role", "monitor"}, []string{"--org-unit"}},
		{"no key", []string{"--role", "monitor", "--org-unit", "hh"}, []string{"no signing key: pass --key"}},
		{"not a key", []string{"--key", bare, "--role", "monitor", "--org-unit", "hh"}, []string{"--key: load signing key"}},
		{"no ttl", []string{"--key", r.KeyFile, "--role", "monitor", "--org-unit", "hh", "--ttl", "0s"}, []string{"--ttl 0s: give a positive duration"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runLine(append([]string{"--config", bare, "token"}, tt.args...)...)
			wantErr(t, "token "+strings.Join(tt.args, " "), err, tt.want...)
			if out != "" {
				t.Errorf("printed %q", out)
			}
		})
	}
}

func TestCommandsWithoutCredentialsSayHowToSignIn(t *testing.T) {
	r := startStack(t)
	bare := writeConfig(t, "addr: "+r.Addr+"\n")
	_, _, err := runLine("--config", bare, "counts")
	wantErr(t, "counts without credentials", err, "no or bad credentials (", "pass --token, or use the config `whistle dev` writes",
		"whistlectl --config <data>/whistlectl.yaml")
	_, _, err = runLine("--config", bare, "--token", "not.a.token", "inbox", "xc-urban")
	wantErr(t, "inbox with a bad token", err, "no or bad credentials (", "malformed token")

	// A signing key without the city: the commands acting for the city say how to name it.
	noCity := writeConfig(t, "addr: "+r.Addr+"\nsigning_key: "+r.KeyFile+"\n")
	_, _, err = runLine("--config", noCity, "counts")
	wantErr(t, "counts without a city", err, "--city", "WHISTLE_CITY_UNIT")
	if out, _, err := runLine("--config", noCity, "--city", r.City, "counts"); err != nil || !strings.Contains(out, "total") {
		t.Fatalf("counts with --city: %v\n%s", err, out)
	}
	_, _, err = runLine("--config", noCity, "--token", "x", "--signing-key", r.KeyFile, "counts")
	wantErr(t, "--token with --signing-key", err, "--token and --signing-key: give one")
}

func TestTokenForAnotherOrgUnitIsRefused(t *testing.T) {
	r := startStack(t)
	number, id := reportIn(t, r.Addr, "wrong-1", "road_damage", "xc-hd-dj-g01") // lead xc-urban
	eventually(t, r.Addr, number, "inbox", "xc-urban")
	bare := writeConfig(t, "addr: "+r.Addr+"\n")
	water := r.Token(auth.RoleDepartmentHandler, "xc-water")
	_, _, err := runLine("--config", bare, "--token", water, "accept", id, "--as", "xc-urban")
	wantErr(t, "accept for xc-urban with xc-water's token", err, "not allowed: ", "acts for another org unit",
		"(your token acts for xc-water with roles department_handler; use a token for the right org unit and role)")
	// A department may not look tickets up by number: it is told to pass the id.
	urban := r.Token(auth.RoleDepartmentHandler, "xc-urban")
	_, _, err = runLine("--config", bare, "--token", urban, "accept", number, "--as", "xc-urban")
	wantErr(t, "accept by number with a department's token", err, "not allowed: ", "pass the ticket's id")
	// The department's own token, with the id, does it.
	if out, _, err := runLine("--config", bare, "--token", urban, "accept", id, "--as", "xc-urban"); err != nil ||
		!strings.Contains(out, "accepted "+number+" for xc-urban") {
		t.Fatalf("accept with xc-urban's token: %v %q", err, out)
	}
}

func TestSmokeWithTheConfigWhistleDevWrites(t *testing.T) {
	r := startStack(t)
	// Laid out as `whistle dev` does: paths relative to the config file.
	dir := t.TempDir()
	key, err := os.ReadFile(r.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "auth", "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth", "signer-test.json"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth", "tokens", "admin.jwt"), []byte(r.Token(auth.RoleAdmin, r.City)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "whistlectl.yaml")
	if err := os.WriteFile(cfg, []byte("addr: "+r.Addr+"\ntoken_file: auth/tokens/admin.jwt\nsigning_key: auth/signer-test.json\ncity: "+r.City+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runLine("--config", cfg, "smoke", "--tickets", "5")
	if err != nil || !strings.Contains(out, "smoke: 5 reported, 5 closed, 0 stuck") {
		t.Fatalf("smoke --tickets 5: %v\n%s", err, out)
	}
	// One token cannot play every part: smoke says what it needs instead of failing five times.
	_, _, err = runLine("--config", cfg, "--token", r.Token(auth.RoleAdmin, r.City), "smoke", "--tickets", "5")
	wantErr(t, "smoke with one token", err, "no single token can", "--signing-key")
}
