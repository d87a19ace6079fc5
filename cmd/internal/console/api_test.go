package console_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"

	"github.com/whistle-civic/whistle/cmd/internal/console"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestJSONLayer: the console's API answers every call as the gRPC API would,
// in words, refuses what it does not serve, and sends the page with a
// content security policy that allows only its own scripts.
func TestJSONLayer(t *testing.T) {
	t.Parallel()
	r := stacktest.Start(t)
	con, err := console.New(console.Config{Conn: grpcConn(t, r), City: r.City})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	t.Cleanup(srv.Close)
	monitor := "Bearer " + r.Token(auth.RoleMonitor, r.City)
	tests := []struct {
		name, path, ctype, auth, body string
		code                          int
		want                          string
	}{
		{"a call", "/api/v1/MonitoringService/GetCounts", "application/json", monitor, `{}`, 200, `{`},
		{"no token", "/api/v1/MonitoringService/GetCounts", "application/json", "", `{}`, 401, "no credentials"},
		{"a bad token", "/api/v1/MonitoringService/GetCounts", "application/json", "Bearer nonsense", `{}`, 401, ""},
		{"not allowed", "/api/v1/DispatchService/ImportCatalog", "application/json", monitor, `{"source":"x","actor":{"id":"a","org_unit_id":"hh"}}`, 403, ""},
		{"bad input, in words", "/api/v1/IntakeService/GetTicket", "application/json", monitor, `{"ticket":"<script>"}`, 400, "ticket"},
		{"not JSON of the request", "/api/v1/IntakeService/GetTicket", "application/json", monitor, `{"nope":1}`, 400, "not a GetTicketRequest"},
		{"not JSON", "/api/v1/IntakeService/GetTicket", "text/plain", monitor, `ticket=1`, 415, "application/json"},
		{"no such API", "/api/v1/SecretService/Do", "application/json", monitor, `{}`, 404, "no API"},
		{"a stream", "/api/v1/MonitoringService/WatchEvents", "application/json", monitor, `{}`, 404, "no unary method"},
		{"too large", "/api/v1/IntakeService/GetTicket", "application/json", monitor, `{"ticket":"` + strings.Repeat("a", console.MaxBody) + `"}`, 413, "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.want) {
				t.Fatalf("POST %s = %d %s; want %d with %q", tt.path, resp.StatusCode, body, tt.code, tt.want)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("the page's content security policy is %q", csp)
	}
	if resp, err := http.Post(srv.URL+"/session", "application/json", strings.NewReader(`{"user":"monitor"}`)); err != nil || resp.StatusCode != 404 {
		t.Errorf("a console without sample users signed someone in: %v %v", resp.Status, err)
	}
}

// TestVendoredFilesAreTheLockfiles: the front-end files the binary embeds
// (web/vendor) are those of the packages package-lock.json pins.
func TestVendoredFilesAreTheLockfiles(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the console's assets check needs %s: install Node.js 20 (Debian: apt-get install -y nodejs npm)", tool)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	install := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	for vendored, from := range map[string]string{"uPlot.esm.js": "uplot/dist/uPlot.esm.js", "uPlot.min.css": "uplot/dist/uPlot.min.css",
		"uPlot.LICENSE": "uplot/LICENSE"} {
		got, err1 := os.ReadFile(filepath.Join("web", "vendor", vendored))
		want, err2 := os.ReadFile(filepath.Join(dir, "node_modules", from))
		if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
			t.Errorf("web/vendor/%s (sha256 %x) is not %s of the lockfile (%x) (%v %v): run `make console-assets`",
				vendored, sha256.Sum256(got), from, sha256.Sum256(want), err1, err2)
		}
	}
}
