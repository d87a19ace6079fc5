package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/bench"
	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// clientCheck is the folder of the independent Open311 client's check
// (the open311 npm package, pinned by its lockfile).
var clientCheck = filepath.Join("..", "internal", "open311", "clientcheck")

// checkDevOpen311 drives the Open311 gateway of a running `whistle dev`
// with a GeoReport v2 client written elsewhere (codeforamerica's open311,
// from the npm registry): discovery, services, a service definition, a
// posted request, its token and the request read back; then reads the
// request back in XML.
func checkDevOpen311(t *testing.T, c loop.Clients, data string, as func(context.Context, auth.Role, string) context.Context) {
	t.Helper()
	ends, err := bench.ReadEndpoints(data)
	if err != nil || !strings.HasPrefix(ends.Open311, "http://127.0.0.1:") {
		t.Fatalf("endpoints.json names no Open311 gateway: %+v, %v", ends, err)
	}
	key, err := c.Open311.AddOpen311Key(as(context.Background(), auth.RoleAdmin, "hh"), &whistlev1.AddOpen311KeyRequest{
		Name: "open311 npm client", OrgUnitId: "hh", Actor: &whistlev1.Actor{Id: "dev-test", OrgUnitId: "hh"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the Open311 client check needs %s: install Node.js 20 (Debian: apt-get install -y nodejs npm)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	install.Dir = clientCheck
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", clientCheck, err, out)
	}
	run := exec.CommandContext(ctx, "node", "check.js", ends.Open311, key.GetSecret())
	run.Dir = clientCheck
	out, err := run.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("the open311 client failed: %v\n%s%s", err, out, stderr)
	}
	var seen struct {
		Services         int    `json:"services"`
		Attributes       int    `json:"attributes"`
		ServiceRequestID string `json:"service_request_id"`
		Status           string `json:"status"`
		AddressID        string `json:"address_id"`
	}
	if err := json.Unmarshal(out, &seen); err != nil || seen.Services < 20 || seen.Attributes != 2 || seen.Status != "open" ||
		!strings.HasPrefix(seen.ServiceRequestID, "HH-") || seen.AddressID != "xc-hd-dj-g01" {
		t.Fatalf("the open311 client saw %s (%v)", out, err)
	}
	t.Logf("the open311 npm client saw %s", out)
	resp, err := http.Get(ends.Open311 + "/open311/v2/requests/" + seen.ServiceRequestID + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<service_request_id>"+seen.ServiceRequestID+"</service_request_id>") {
		t.Fatalf("GET requests/%s.xml = %d %s", seen.ServiceRequestID, resp.StatusCode, body)
	}
}
