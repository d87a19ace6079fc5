package main

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/peer"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/postgres"
)

// recordAudit writes audit entries into a service's schema of the stack's
// database, in one transaction, as the caller p calling from addr.
//
// Until the API authenticates its callers, calls carry no principal and
// change nothing in the audit log; so the test records entries as the
// services would, with audit.Record, and reads them back through the API.
func recordAudit(t *testing.T, dbURL, schema string, p auth.Principal, addr string, entries ...audit.Entry) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: schema, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx = peer.NewContext(auth.WithPrincipal(ctx, p), &peer.Peer{Addr: ap})
	err = db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		for _, e := range entries {
			if err := audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditCommand(t *testing.T) {
	r := startStack(t)
	adminToken := r.Token(auth.RoleAdmin, r.City)
	auditCtl := func(args ...string) string {
		t.Helper()
		return mustCtl(t, r.Addr, append([]string{"audit", "--token", adminToken}, args...)...)
	}
	ticket, other := ids.New(), ids.New()
	handler := auth.Principal{Subject: "u-4711", OrgUnit: "xc-water", Roles: []auth.Role{auth.RoleDepartmentHandler}, Via: "jwt"}
	admin := auth.Principal{Subject: "admin-1", OrgUnit: "xc", Roles: []auth.Role{auth.RoleAdmin}, Via: "mtls"}
	recordAudit(t, r.Config.DatabaseURL, "dispatch", admin, "192.0.2.1:40000",
		audit.Entry{Action: "catalog.activate", Detail: "version 2026-11"})
	recordAudit(t, r.Config.DatabaseURL, "response", handler, "192.0.2.7:51234",
		audit.Entry{Action: "accepted", TicketID: ticket, EventID: ids.New()})
	recordAudit(t, r.Config.DatabaseURL, "response", handler, "192.0.2.7:51234",
		audit.Entry{Action: "resolved", TicketID: ticket, EventID: ids.New()},
		audit.Entry{Action: "accepted", TicketID: other, EventID: ids.New()})

	out := auditCtl("--ticket", ticket)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[3]+"\n" != zoneNote || !regexp.MustCompile(`^AT\s+SERVICE\s+WHO\s+ACTION\s+TICKET\s+FROM\s+TRACE$`).MatchString(lines[0]) {
		t.Fatalf("audit --ticket printed:\n%s", out)
	}
	for i, action := range []string{"resolved", "accepted"} { // newest first
		row := `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+response\s+u-4711@xc-water\s+` + action + `\s+` + ticket + `\s+192\.0\.2\.7:51234\s+-$`
		if !regexp.MustCompile(row).MatchString(lines[i+1]) {
			t.Errorf("line %d is %q, want %s", i+1, lines[i+1], row)
		}
	}

	// Every service's entries, one page at a time, with the next page's command.
	out = auditCtl("--page-size", "2")
	if !strings.Contains(out, "resolved") || strings.Contains(out, "catalog.activate") {
		t.Fatalf("first page:\n%s", out)
	}
	next := regexp.MustCompile(`more: whistlectl audit --page (\S+) `).FindStringSubmatch(out)
	if next == nil {
		t.Fatalf("no next page hint:\n%s", out)
	}
	for _, flag := range []string{"--page-token", "--page"} {
		out = auditCtl("--page-size", "2", flag, next[1])
		if !regexp.MustCompile(`dispatch\s+admin-1@xc\s+catalog\.activate\s+-\s+192\.0\.2\.1:40000`).MatchString(out) ||
			!strings.Contains(out, "accepted") || strings.Contains(out, "more:") {
			t.Fatalf("second page (%s):\n%s", flag, out)
		}
	}

	var resp whistlev1.ListAuditResponse
	if err := unmarshalJSON(auditCtl("--org-unit", "xc", "-o", "json"), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.GetEntries()) != 1 || resp.GetEntries()[0].GetDetail() != "version 2026-11" ||
		resp.GetEntries()[0].GetRoles()[0] != "admin" || resp.GetEntries()[0].GetVia() != "mtls" {
		t.Fatalf("audit --org-unit xc -o json: %v", &resp)
	}
	out = auditCtl("--subject", "u-4711", "--action", "accepted", "--since", time.Now().Add(-time.Hour).Format(time.RFC3339))
	if strings.Count(out, "accepted") != 2 || strings.Contains(out, "resolved") {
		t.Fatalf("audit --subject --action --since:\n%s", out)
	}
	if out := auditCtl("--until", "2020-01-01 00:00"); strings.Count(out, "\n") != 1 {
		t.Fatalf("audit --until before everything:\n%s", out)
	}

	// A change made through the API with a caller's token is audited by the
	// service that made it, in the same transaction; what the services do in
	// reaction (dispatch routing the ticket) is not.
	reporter := r.Token(auth.RoleReporter, "xc-hd-dj-g01")
	out = eventually(t, r.Addr, "HH-", "report", "--token", reporter, "--category", "road_damage", "--grid", "xc-hd-dj-g01",
		"--description", "audited pothole", "--key", "audit-1")
	number := regexp.MustCompile(`HH-\d{8}-\d{5}`).FindString(out)
	eventually(t, r.Addr, "dispatched", "show", number, "--token", adminToken) // dispatch has routed it
	out = auditCtl("--ticket", number)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[2]+"\n" != zoneNote || !regexp.MustCompile(`\s+intake\s+\S+@xc-hd-dj-g01\s+reported\s+[0-9a-f-]{36}\s+127\.0\.0\.1:\d+\s+[0-9a-f]{32}$`).MatchString(lines[1]) {
		t.Fatalf("audit --ticket %s after reporting it through the API:\n%s", number, out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--token", adminToken, "--since", "yesterday"}, `--since "yesterday": write it as`},
		{[]string{"audit", "--token", adminToken, "--page-size", "501"}, "--page-size 501: choose 1 to 500"},
		{[]string{"audit", "--token", adminToken, "--page-token", "nonsense"}, "page_token is not valid"},
		{[]string{"audit", "--token", adminToken, "--since", "2026-11-28 00:00", "--until", "2026-11-27 00:00"}, "before must be later than after"},
		{[]string{"audit", "--token", reporter}, "PermissionDenied"},
	} {
		if _, err := ctl(t, r.Addr, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("whistlectl %v: %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}
