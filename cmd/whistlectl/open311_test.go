package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestOpen311KeysCommands issues a key, lists it without its secret,
// revokes it (it then leaves the list unless --all), and refuses a source
// a key cannot have, saying which it can.
func TestOpen311KeysCommands(t *testing.T) {
	r := startStack(t)
	out := mustCtl(t, r.Addr, "open311", "keys", "add", "市民随手拍 app", "--unit", "xc-hd-dj", "--rate", "120", "--source", "building_head")
	m := regexp.MustCompile(`added Open311 key (\S+) for xc-hd-dj \(building_head, 120 calls a minute\)\nkey: (o311_\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("open311 keys add printed:\n%s", out)
	}
	id, secret := m[1], m[2]
	out = mustCtl(t, r.Addr, "open311", "keys", "list")
	if !regexp.MustCompile(`(?m)^` + id + `\s+市民随手拍 app\s+xc-hd-dj\s+building_head\s+120\s+` + regexp.QuoteMeta(secret[:12]) + `…\s+-$`).MatchString(out) {
		t.Fatalf("open311 keys list:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("open311 keys list shows the key:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "open311", "keys", "revoke", id); !strings.Contains(out, "revoked Open311 key "+id) {
		t.Fatalf("open311 keys revoke printed %q", out)
	}
	if out := mustCtl(t, r.Addr, "open311", "keys", "list"); strings.Contains(out, id) {
		t.Fatalf("a revoked key is still listed:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "open311", "keys", "list", "--all"); !regexp.MustCompile(id + `.*\d{4}-\d\d-\d\d \d\d:\d\d$`).MatchString(strings.TrimSpace(out)) {
		t.Fatalf("open311 keys list --all does not show the revocation:\n%s", out)
	}
	if _, err := ctl(t, r.Addr, "open311", "keys", "add", "x", "--unit", "hh", "--source", "proactive"); err == nil ||
		!strings.Contains(err.Error(), "one of resident") {
		t.Fatalf("a proactive key: %v, want refused naming the sources", err)
	}
	if _, err := ctl(t, r.Addr, "open311", "keys", "add", "x", "--unit", "atlantis"); err == nil || !strings.Contains(err.Error(), "not in the active org tree") {
		t.Fatalf("a key for an unknown unit: %v, want refused", err)
	}
}
