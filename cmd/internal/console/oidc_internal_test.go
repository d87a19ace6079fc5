package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/egress"
)

// TestSignInStoreIsBounded: the store of sign-ins under way holds at most
// its bound of live entries, hands each out once, and forgets it when it
// expires.
func TestSignInStoreIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := newStore[int](2, LoginTTL, func() time.Time { return now })
	if !s.put("a", 1) || !s.put("b", 2) || s.put("c", 3) {
		t.Fatal("the store took more than its bound")
	}
	if v, ok := s.take("a"); !ok || v != 1 {
		t.Fatalf("take a = %d, %v", v, ok)
	}
	if _, ok := s.take("a"); ok {
		t.Fatal("a was handed out twice")
	}
	now = now.Add(LoginTTL)
	if _, ok := s.take("b"); ok {
		t.Fatal("b was handed out after it expired")
	}
	if !s.put("c", 3) || !s.put("d", 4) || len(s.m) != 2 {
		t.Fatalf("expired entries did not make room: %d kept", len(s.m))
	}
}

// TestClaimsMapToAPrincipal: only the configured claims decide who the
// user is; known roles are kept (not the resident's nor another system's),
// unknown ones dropped, and an account with none, or without a valid org
// unit, is refused; every claim is bounded.
func TestClaimsMapToAPrincipal(t *testing.T) {
	t.Parallel()
	f := &oidcFlow{cfg: OIDC{RolesClaim: DefaultRolesClaim, OrgClaim: DefaultOrgClaim}}
	custom := &oidcFlow{cfg: OIDC{RolesClaim: "groups", OrgClaim: "department"}}
	many := make([]string, maxRoles+1)
	for i := range many {
		many[i] = "monitor"
	}
	manyJSON, _ := json.Marshal(many)
	for _, tt := range []struct {
		name   string
		flow   *oidcFlow
		sub    string
		claims string
		roles  []auth.Role // nil: refused
		status int
	}{
		{"an array", f, "u-1", `{"whistle_roles":["department_handler"],"whistle_org":"xc-urban"}`, []auth.Role{auth.RoleDepartmentHandler}, 0},
		{"a string", f, "u-1", `{"whistle_roles":"monitor street_officer","whistle_org":"hh"}`, []auth.Role{auth.RoleMonitor, auth.RoleStreetOfficer}, 0},
		{"commas", f, "u-1", `{"whistle_roles":"monitor,admin","whistle_org":"hh"}`, []auth.Role{auth.RoleMonitor, auth.RoleAdmin}, 0},
		{"unknown ones dropped", f, "u-1", `{"whistle_roles":["mayor","monitor","monitor"],"whistle_org":"hh"}`, []auth.Role{auth.RoleMonitor}, 0},
		{"other claim names", custom, "u-1", `{"groups":["admin"],"department":"hh","whistle_roles":["monitor"]}`, []auth.Role{auth.RoleAdmin}, 0},
		{"only the configured claims", custom, "u-1", `{"whistle_roles":["admin"],"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"no roles", f, "u-1", `{"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"only unknown roles", f, "u-1", `{"whistle_roles":["mayor"],"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"a resident and a system", f, "u-1", `{"whistle_roles":["resident","system"],"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"too many roles", f, "u-1", `{"whistle_roles":` + string(manyJSON) + `,"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"a role too long", f, "u-1", `{"whistle_roles":["` + strings.Repeat("m", 100) + `"],"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"roles of another type", f, "u-1", `{"whistle_roles":5,"whistle_org":"hh"}`, nil, http.StatusForbidden},
		{"no org unit", f, "u-1", `{"whistle_roles":["monitor"]}`, nil, http.StatusForbidden},
		{"an org unit too long", f, "u-1", `{"whistle_roles":["monitor"],"whistle_org":"` + strings.Repeat("a", 65) + `"}`, nil, http.StatusForbidden},
		{"an org unit with other characters", f, "u-1", `{"whistle_roles":["monitor"],"whistle_org":"XC/urban"}`, nil, http.StatusForbidden},
		{"an org unit of another type", f, "u-1", `{"whistle_roles":["monitor"],"whistle_org":["hh"]}`, nil, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var claims map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.claims), &claims); err != nil {
				t.Fatal(err)
			}
			p, refusal := tt.flow.principal(tt.sub, claims)
			switch {
			case tt.roles == nil && (refusal == nil || refusal.Status != tt.status):
				t.Fatalf("mapped to %+v; want refused with %d", p, tt.status)
			case tt.roles != nil && (refusal != nil || !slices.Equal(p.Roles, tt.roles) || p.Subject != tt.sub):
				t.Fatalf("mapped to %+v (%v); want roles %v", p, refusal, tt.roles)
			}
		})
	}
	if got := actorID(strings.Repeat("长", 30)); !strings.HasPrefix(got, "oidc-") || len(got) != 29 {
		t.Errorf("a subject that is no actor id maps to %q; want a digest", got)
	}
}

// TestProviderClientStaysWhereItMay: the console's client reaches the
// issuer's host (wherever it is: the operator named it) and, elsewhere,
// only what the egress policy allows; it reads at most 1 MiB of an answer.
func TestProviderClientStaysWhereItMay(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 2*maxOIDCBody)
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, big) }))
	t.Cleanup(issuer.Close)
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "inside") }))
	t.Cleanup(private.Close)

	c := oidcClient(issuer.URL+"/", egress.Policy{})
	resp, err := c.Get(issuer.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("the issuer's host is refused: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if len(b) != maxOIDCBody {
		t.Errorf("read %d bytes of the answer; want at most %d", len(b), maxOIDCBody)
	}
	if _, err := c.Get(private.URL + "/"); err == nil || !errors.Is(err, egress.ErrRefused) {
		t.Errorf("another loopback address was reached: %v", err)
	}
	allowed := oidcClient(issuer.URL+"/", egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if resp, err := allowed.Get(private.URL + "/"); err != nil {
		t.Errorf("an address the policy allows is refused: %v", err)
	} else {
		resp.Body.Close()
	}
	if _, err := c.Get("file:///etc/passwd"); err == nil {
		t.Error("a file: URL was fetched")
	}
}
