package policy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/policy"
)

func TestDecisions(t *testing.T) {
	t.Parallel()
	as := func(org string, roles ...auth.Role) context.Context {
		return auth.WithPrincipal(context.Background(), auth.Principal{Subject: "u", OrgUnit: org, Roles: roles})
	}
	ticketInDj := policy.Resource{Ticket: true, Areas: []string{"xc-hd-dj-g01", "xc-hd-dj", "xc-hd", "xc", "hh"},
		Departments: []string{"xc-urban"}}
	street := policy.Resource{Areas: []string{"xc-hd", "xc", "hh"}}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		method string
		res    policy.Resource
		want   error
	}{
		{"a community reads its ticket", as("xc-hd-dj", auth.RoleCommunityOfficer), "/whistle.v1.IntakeService/GetTicket", ticketInDj, nil},
		{"another community does not see it", as("xc-hd-wy", auth.RoleCommunityOfficer), "/whistle.v1.IntakeService/GetTicket", ticketInDj, policy.ErrOutOfScope},
		{"the department accepts it", as("xc-urban", auth.RoleDepartmentHandler), "/whistle.v1.ResponseService/Accept", ticketInDj, nil},
		{"another department does not see it", as("xc-water", auth.RoleDepartmentHandler), "/whistle.v1.ResponseService/Accept", ticketInDj, policy.ErrOutOfScope},
		{"a monitor may not accept", as("hh", auth.RoleMonitor), "/whistle.v1.ResponseService/Accept", ticketInDj, policy.ErrForbidden},
		{"a street officer arbitrates in its street", as("xc-hd", auth.RoleStreetOfficer), "/whistle.v1.DispatchService/Arbitrate", ticketInDj, nil},
		{"a street's scorecard for its district's monitor", as("xc", auth.RoleMonitor), "/whistle.v1.MonitoringService/GetScorecard", street, nil},
		{"not for another district's", as("yq", auth.RoleMonitor), "/whistle.v1.MonitoringService/GetScorecard", street, policy.ErrOutsideUnit},
		{"admin anywhere", as("hh", auth.RoleAdmin), "/whistle.v1.DispatchService/ImportCatalog", policy.Resource{}, nil},
		{"a resident with a code", as("", auth.RoleResident), "/whistle.v1.EvaluationService/Evaluate", policy.Resource{Ticket: true, Code: true}, nil},
		{"a resident without one", as("", auth.RoleResident), "/whistle.v1.EvaluationService/Evaluate", policy.Resource{Ticket: true}, policy.ErrOutOfScope},
		{"an unknown method", as("hh", auth.RoleAdmin), "/whistle.v1.IntakeService/Delete", policy.Resource{}, policy.ErrForbidden},
		{"nobody", context.Background(), "/whistle.v1.IntakeService/GetTicket", ticketInDj, policy.ErrNoPrincipal},
		{"nobody, on a server without authentication", policy.Unenforced(context.Background()), "/whistle.v1.IntakeService/GetTicket", ticketInDj, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := policy.Authorize(tc.ctx, tc.method, tc.res); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEveryRuleNamesAKnownRoleAndScope(t *testing.T) {
	t.Parallel()
	for method, rules := range policy.Table {
		if len(rules) == 0 {
			t.Errorf("%s: no rule", method)
		}
		for _, r := range rules {
			if _, err := auth.ParseRole(string(r.Role)); err != nil {
				t.Errorf("%s: %v", method, err)
			}
			switch r.Scope {
			case policy.Anywhere, policy.InArea, policy.InDepartment, policy.WithCode, policy.ReportedFrom:
			default:
				t.Errorf("%s: scope %q", method, r.Scope)
			}
		}
	}
}

func TestMasks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, name, phone string }{
		{"张三丰", "张**", ""},
		{"Li", "L*", ""},
		{"13812345678", "1**********", "138****5678"},
		{"5551234", "5******", "*****34"},
		{"", "", ""},
	} {
		if got := policy.MaskName(tc.in); got != tc.name {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.name)
		}
		if tc.phone != "" || tc.in == "" {
			if got := policy.MaskPhone(tc.in); got != tc.phone {
				t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.phone)
			}
		}
	}
}

// TestTheDocsShowThePolicyInForce keeps docs/security.md's table the one
// the code enforces.
func TestTheDocsShowThePolicyInForce(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- policy table: begin -->\n", "<!-- policy table: end -->"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("docs/security.md lacks the markers %q and %q around the policy table", begin, end)
	}
	if got, want := doc[i+len(begin):j], policy.Markdown(); got != want {
		t.Fatalf("docs/security.md shows another policy than pkg/policy enforces; put this between the markers:\n%s", want)
	}
}
