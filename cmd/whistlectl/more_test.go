package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestQueryCommands(t *testing.T) {
	r := startStack(t)
	n := reportOne(t, r.Addr, "q1", "river_pollution") // lead xc-env, assisted by xc-water
	if out := mustCtl(t, r.Addr, "tickets", "--category", "river_pollution"); !strings.Contains(out, n) {
		t.Fatalf("tickets:\n%s", out)
	}
	eventually(t, r.Addr, "xc-water", "assignment", n)
	if out := mustCtl(t, r.Addr, "assignment", n); !strings.Contains(out, "Lead        xc-env") {
		t.Fatalf("assignment:\n%s", out)
	}
	eventually(t, r.Addr, n, "inbox", "xc-water", "--assisting")
	if out := mustCtl(t, r.Addr, "inbox", "xc-env", "--area", "xc-hd-dj", "--matter", "river_pollution"); !strings.Contains(out, n) {
		t.Fatalf("inbox with filters:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "inbox", "xc-env", "--area", "yq"); strings.Contains(out, n) {
		t.Fatalf("inbox of another area lists the ticket:\n%s", out)
	}
	mustCtl(t, r.Addr, "accept", n, "--as", "xc-env")
	if _, err := ctl(t, r.Addr, "resolve", n, "--as", "xc-env", "--result", "cleaned"); err == nil || !strings.Contains(err.Error(), "xc-water") {
		t.Fatalf("resolve before the assist: %v", err)
	}
	valve, after := localFile(t, "valve.jpg", "jpeg of a closed valve"), localFile(t, "after.jpg", "jpeg of a clean river")
	if _, err := ctl(t, r.Addr, "assist", n, "--note", "closed", "--attachment", "missing.jpg=https://files.example.gov/1", "--as", "xc-water"); err == nil ||
		!strings.Contains(err.Error(), "name a local copy of the file kept at https://files.example.gov/1") {
		t.Fatalf("assist with an attachment that is no local file: %v", err)
	}
	mustCtl(t, r.Addr, "assist", n, "--note", "closed the outflow", "--attachment", valve+"=https://files.example.gov/1", "--as", "xc-water")
	if out := mustCtl(t, r.Addr, "item", n); !strings.Contains(out, "Assist      xc-water  reported: true") {
		t.Fatalf("item:\n%s", out)
	}
	if _, err := ctl(t, r.Addr, "resolve", n, "--as", "xc-env", "--result", "cleaned", "--evidence", after+"=http://files.example.gov/2"); err == nil ||
		!strings.Contains(err.Error(), "evidence[0].url") {
		t.Fatalf("resolve with an http URL: %v", err)
	}
	mustCtl(t, r.Addr, "resolve", n, "--as", "xc-env", "--result", "cleaned", "--evidence", after+"=https://files.example.gov/2")
	eventually(t, r.Addr, n, "evaluations", "--reporter", "xc-hd-dj-g01")
	if out := mustCtl(t, r.Addr, "evaluation", n); !strings.Contains(out, "round 1: open") {
		t.Fatalf("evaluation:\n%s", out)
	}
}

func TestWatchPrintsChangesLive(t *testing.T) {
	r := startStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, ctlArgs(r.Addr, "watch", "xc-urban"), out, &bytes.Buffer{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "watching xc-urban") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n := reportOne(t, r.Addr, "w1", "road_damage")
	for !strings.Contains(out.String(), n+"  lead   dispatched") {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("watch printed:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
}

func TestSettingsComeFromFlagsEnvAndConfigFile(t *testing.T) {
	r := startStack(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "whistlectl.yaml")
	if err := os.WriteFile(cfg, []byte("addr: "+r.Addr+"\ntoken_file: token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	monitor := r.Token(auth.RoleMonitor, r.City)
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(monitor+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--config", cfg, "counts"}, &out, &errOut); err != nil {
		t.Fatalf("counts with the address and token from the config file: %v", err)
	}
	t.Setenv("WHISTLE_TOKEN", "not-a-token") // the environment beats the file…
	if err := run(context.Background(), []string{"--config", cfg, "counts"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "no or bad credentials") {
		t.Fatalf("WHISTLE_TOKEN did not override the config file: %v", err)
	}
	if err := run(context.Background(), []string{"--config", cfg, "--token", monitor, "counts"}, &out, &errOut); err != nil {
		t.Fatalf("--token over WHISTLE_TOKEN: %v", err) // …and the flag beats the environment
	}
	t.Setenv("WHISTLE_TOKEN", "")
	t.Setenv("WHISTLE_ADDR", "127.0.0.1:1") // the environment beats the file…
	if err := run(context.Background(), []string{"--config", cfg, "counts"}, &out, &errOut); err == nil {
		t.Fatal("WHISTLE_ADDR did not override the config file")
	}
	out.Reset() // …and the flag beats the environment
	if err := run(context.Background(), []string{"--config", cfg, "--addr", r.Addr, "counts", "-o", "json"}, &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "{") {
		t.Fatalf("--addr over WHISTLE_ADDR: %v %s", err, out.String())
	}
	if err := run(context.Background(), []string{"--config", filepath.Join(dir, "missing.yaml"), "counts"}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "WHISTLE_CONFIG") {
		t.Fatalf("a missing config file: %v", err)
	}
}

func TestShellCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"completion", shell}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "whistlectl") {
			t.Fatalf("completion %s: %v", shell, err)
		}
	}
}

// localFile writes a file named name holding content and returns its path.
func localFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
