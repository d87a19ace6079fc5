package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/services/dispatch"
)

func reportOne(t *testing.T, addr, key, category string) string {
	t.Helper()
	out := mustCtl(t, addr, "report", "--category", category, "--grid", "xc-hd-dj-g01", "--description", "cli "+key, "--key", key)
	n := regexp.MustCompile(`HH-\d{8}-\d{5}`).FindString(out)
	if n == "" {
		t.Fatalf("no ticket number in %q", out)
	}
	return n
}

func TestCatalogCommands(t *testing.T) {
	r := startStack(t)
	if out := mustCtl(t, r.Addr, "catalog", "list"); !strings.Contains(out, "2026.11-sample") || !strings.Contains(out, "active") {
		t.Fatalf("catalog list:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "catalog", "show"); !strings.Contains(out, "road_damage") || !strings.Contains(out, "triage (case by case)") {
		t.Fatalf("catalog show:\n%s", out)
	}
	src := strings.Replace(string(dispatch.SampleCatalog), `version: "2026.11-sample"`, `version: "2026.12"`, 1)
	src = strings.Replace(src, `name: "道路破损"`, `name: "道路破损(含人行道)"`, 1)
	file := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustCtl(t, r.Addr, "catalog", "import", file, "--activate", "--as", "hh"); !strings.Contains(out, "imported catalog 2026.12 (active: true)") {
		t.Fatalf("catalog import: %q", out)
	}
	if out := mustCtl(t, r.Addr, "catalog", "diff", "2026.11-sample", "2026.12"); !strings.Contains(out, "road_damage") || !strings.Contains(out, "含人行道") {
		t.Fatalf("catalog diff:\n%s", out)
	}
	if err := os.WriteFile(file, []byte("version: x\nmatters: [{code: m}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl(t, r.Addr, "catalog", "import", file, "--as", "hh"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a broken catalog: %v", err)
	}
	if out := mustCtl(t, r.Addr, "catalog", "activate", "2026.11-sample", "--as", "hh"); !strings.Contains(out, "catalog 2026.11-sample is active") {
		t.Fatalf("catalog activate: %q", out)
	}
	if out := mustCtl(t, r.Addr, "catalog", "show"); !strings.Contains(out, "catalog 2026.11-sample (active: true)") {
		t.Fatalf("catalog show after activating the sample again:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "explain", "--category", "water_leak", "--grid", "yq-ht-dls-g01"); !strings.Contains(out, "=> lead yq-water") {
		t.Fatalf("explain:\n%s", out)
	}
}

func TestDisputeAndTriageCommands(t *testing.T) {
	r := startStack(t)
	disputed := reportOne(t, r.Addr, "d1", "drain_blocked")
	eventually(t, r.Addr, disputed, "inbox", "xc-water")
	mustCtl(t, r.Addr, "return", disputed, "--reason", "not-our-jurisdiction", "--note", "street drain", "--as", "xc-water")
	eventually(t, r.Addr, disputed, "inbox", "xc-urban")
	mustCtl(t, r.Addr, "return", disputed, "--reason", "overlapping-duties", "--note", "pipes", "--as", "xc-urban")
	eventually(t, r.Addr, "arbitrate (returned 2×", "triage", "list", "xc-hd")
	mustCtl(t, r.Addr, "arbitrate", disputed, "--to", "xc-water", "--note", "broken pipe", "--as", "xc-hd")
	eventually(t, r.Addr, disputed, "inbox", "xc-water")
	if _, err := ctl(t, r.Addr, "return", disputed, "--reason", "unclear-ownership", "--note", "x", "--as", "xc-water"); err == nil ||
		!strings.Contains(err.Error(), "binds") {
		t.Fatalf("returning an arbitrated ticket: %v", err)
	}
	mustCtl(t, r.Addr, "accept", disputed, "--as", "xc-water")
	eventually(t, r.Addr, "clock paused: true", "progress", disputed, "--note", "waiting for the resident", "--pause", "--as", "xc-water")
	mustCtl(t, r.Addr, "progress", disputed, "--note", "resident home", "--resume", "--as", "xc-water")
	until := time.Now().Add(60 * 24 * time.Hour).Format(time.RFC3339)
	mustCtl(t, r.Addr, "extension", "request", disputed, "--until", until, "--reason", "parts on order", "--as", "xc-water")
	eventually(t, r.Addr, "resolve by", "extension", "decide", disputed, "--grant", "--note", "ok", "--as", "xc-hd")
	if out := mustCtl(t, r.Addr, "explain", disputed); !strings.Contains(out, "arbitrated by") {
		t.Fatalf("explain of the arbitrated ticket:\n%s", out)
	}

	odd := reportOne(t, r.Addr, "o1", "ufo_sighting")
	eventually(t, r.Addr, "dispatch by hand", "triage", "list", "xc-hd")
	if _, err := ctl(t, r.Addr, "triage", "dispatch", odd, "--to", "yq-env", "--as", "xc-hd"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("dispatch outside the area: %v", err)
	}
	mustCtl(t, r.Addr, "triage", "dispatch", odd, "--to", "xc-env", "--note", "light pollution", "--as", "xc-hd")
	other := reportOne(t, r.Addr, "o2", "ufo_sighting")
	eventually(t, r.Addr, other, "triage", "list", "xc-hd")
	mustCtl(t, r.Addr, "triage", "reject", other, "--reason", "a private matter", "--as", "xc-hd")
	eventually(t, r.Addr, "CANCELLED", "show", other)
}

// TestCalendarCommands: the sample calendar lists 2026 only, so `calendar
// show` says to add the next year; `calendar add` stores and activates a new
// version with the days added, prints the change, and the calendar then
// covers that year. A revision that is no calendar is refused with the reason.
func TestCalendarCommands(t *testing.T) {
	r := startStack(t)
	if out := mustCtl(t, r.Addr, "calendar", "show"); !strings.Contains(out, "covers until 2026-12-31") ||
		!strings.Contains(out, "add next year's holidays with whistlectl calendar add") || !strings.Contains(out, "2026-10-01") {
		t.Fatalf("calendar show of the sample:\n%s", out)
	}
	out := mustCtl(t, r.Addr, "calendar", "add", "--version", "2040.01", "--holiday", "2040-01-01,2040-02-13",
		"--make-up", "2040-02-11", "--activate", "--as", "hh")
	if !strings.Contains(out, "stored catalog 2040.01 from 2026.11-sample (active: true)") ||
		!strings.Contains(out, "changed calendar: holidays +2040-01-01 +2040-02-13; make_up_days +2040-02-11") ||
		!regexp.MustCompile(`covers until 2040-12-31 \(\d+ days ahead\)\n`).MatchString(out) {
		t.Fatalf("calendar add:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "catalog", "show"); !strings.Contains(out, "catalog 2040.01 (active: true)") {
		t.Fatalf("catalog show after calendar add:\n%s", out)
	}
	if _, err := ctl(t, r.Addr, "calendar", "add", "--version", "2040.02", "--remove", "2039-05-01", "--as", "hh"); err == nil ||
		!strings.Contains(err.Error(), "2039-05-01 is neither a holiday nor a make-up day") {
		t.Fatalf("removing a day not listed: %v", err)
	}
}
