package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/pgtest"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stackConfigs holds, by address, the whistlectl config file of each test
// stack running (see startStack).
var stackConfigs sync.Map

// startStack runs a test stack (authenticating every call) and writes a
// whistlectl config for it: its address, its signing key and its city, so
// that each command mints a token for whoever makes its calls.
func startStack(t *testing.T) *stacktest.Running { return startStackWith(t, stacktest.Options{}) }

// startStackWith is startStack with options.
func startStackWith(t *testing.T, o stacktest.Options) *stacktest.Running {
	t.Helper()
	r := stacktest.StartWith(t, o)
	cfg := writeConfig(t, "addr: "+r.Addr+"\nsigning_key: "+r.KeyFile+"\ncity: "+r.City+"\n")
	stackConfigs.Store(r.Addr, cfg)
	t.Cleanup(func() { stackConfigs.Delete(r.Addr) })
	return r
}

// writeConfig writes a whistlectl config file and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "whistlectl.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ctlArgs is a command line against addr, with the config of the test stack
// there when one runs (no config otherwise: nothing listens, or the test
// names its own credentials).
func ctlArgs(addr string, args ...string) []string {
	line := []string{"--addr", addr}
	if cfg, ok := stackConfigs.Load(addr); ok {
		line = append(line, "--config", cfg.(string))
	}
	return append(line, args...)
}

// ctl runs one whistlectl command line against addr.
// zoneNote ends an output that prints times: they are in the city's zone.
const zoneNote = "times in Asia/Shanghai (UTC+08:00), the city's time zone; --utc prints UTC\n"

// zoneNoteRE matches zoneNote.
var zoneNoteRE = regexp.QuoteMeta(zoneNote)

func ctl(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	out, _, err := ctlAll(t, addr, args...)
	return out, err
}

func mustCtl(t *testing.T, addr string, args ...string) string {
	t.Helper()
	out, err := ctl(t, addr, args...)
	if err != nil {
		t.Fatalf("whistlectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// eventually retries a command until its output contains want.
func eventually(t *testing.T, addr, want string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := ctl(t, addr, args...)
		if err == nil && strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("whistlectl %s never showed %q; last output %q, error %v", strings.Join(args, " "), want, out, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCommandsWalkTheLoop(t *testing.T) {
	r := startStack(t)
	out := mustCtl(t, r.Addr, "report", "--category", "water_leak", "--grid", "xc-hd-dj-g02",
		"--description", "Water pouring from a pipe", "--name", "Zhang", "--phone", "13800000000", "--key", "cli-1")
	number := regexp.MustCompile(`HH-\d{8}-\d{5}`).FindString(out)
	if number == "" {
		t.Fatalf("report printed no ticket number: %q", out)
	}
	if again := mustCtl(t, r.Addr, "report", "--category", "water_leak", "--grid", "xc-hd-dj-g02",
		"--description", "Water pouring from a pipe", "--name", "Zhang", "--phone", "13800000000", "--key", "cli-1"); !strings.Contains(again, "already reported") || !strings.Contains(again, number) {
		t.Fatalf("retry with the same key: %q", again)
	}
	eventually(t, r.Addr, number, "inbox", "xc-water")
	mustCtl(t, r.Addr, "accept", number, "--as", "xc-water")
	if _, err := ctl(t, r.Addr, "resolve", number, "--as", "xc-urban", "--result", "done"); err == nil ||
		!strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("resolve by another department: %v", err)
	}
	mustCtl(t, r.Addr, "assist", number, "--note", "road closed for the works", "--as", "xc-urban") // water_leak: urban management assists
	mustCtl(t, r.Addr, "resolve", number, "--as", "xc-water", "--result", "Pipe replaced")
	eventually(t, r.Addr, "round 1", "evaluate", number, "--as", "xc-hd-dj", "--verdict", "unsatisfied", "--reason", "not_fixed")
	eventually(t, r.Addr, "resolved", "resolve", number, "--as", "xc-water", "--result", "Replaced again")
	eventually(t, r.Addr, "it closes", "evaluate", number, "--as", "xc-hd-dj", "--verdict", "satisfied")
	show := eventually(t, r.Addr, "CLOSED", "show", number)
	for _, want := range []string{"reported", "dispatched", "accepted", "reopened for rework #1", "closed: satisfied", "lead xc-water"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(mustCtl(t, r.Addr, "counts", "-o", "json")), &js); err != nil || js["total"] != "1" {
		t.Fatalf("counts -o json: %v %v", js, err)
	}
}

func TestSmoke(t *testing.T) {
	r := startStack(t)
	out := mustCtl(t, r.Addr, "smoke", "--tickets", "20", "--unsatisfied", "0.3")
	if !strings.Contains(out, "smoke: 20 reported, 20 closed, 0 stuck") {
		t.Fatalf("smoke printed %q", out)
	}
	// Synthetic tickets stay out of the default counts.
	if counts := mustCtl(t, r.Addr, "counts"); !regexp.MustCompile(`total\s+0\n`).MatchString(counts) {
		t.Fatalf("counts without synthetic:\n%s", counts)
	}
}

func TestErrorsSayWhatToDo(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "127.0.0.1:1", "counts"}, "start it with `make run`"},
		{[]string{"report", "--description", "x"}, `required flag(s) "category" not set`},
		{[]string{"evaluate", "x", "--as", "a", "--verdict", "great"}, "choose one of basically-satisfied, satisfied, unsatisfied"},
		{[]string{"-o", "yaml", "counts"}, "use table or json"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("whistlectl %v: %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}
