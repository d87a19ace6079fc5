package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/pgtest"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// ctl runs one whistlectl command line against addr.
func ctl(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"--addr", addr}, args...), &out, &errOut)
	return out.String(), err
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
	r := stacktest.Start(t)
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
		!strings.Contains(err.Error(), "PermissionDenied") {
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
	r := stacktest.Start(t)
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
