package validate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"sigs.k8s.io/yaml"
)

// runDevkeys builds deploy/compose/devkeys and runs it with args.
func runDevkeys(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("whistle-devkeys %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func buildDevkeys(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "whistle-devkeys")
	// As the image builds it: the one file, outside any module.
	cmd := exec.Command("go", "build", "-o", bin, "main.go")
	cmd.Dir = repoPath("deploy", "compose", "devkeys")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build deploy/compose/devkeys/main.go as the Dockerfile does: %v\n%s", err, out)
	}
	return bin
}

// TestDevkeysMakesKeysWhistleAccepts runs deploy/compose/devkeys and checks that its key,
// JWKS and whistlectl config are what Whistle reads, and that it keeps the key.
func TestDevkeysMakesKeysWhistleAccepts(t *testing.T) {
	bin := buildDevkeys(t)
	dir := filepath.Join(t.TempDir(), "keys")
	runDevkeys(t, bin, "--dir", dir, "--addr", "gateway:7000", "--city", "hh")

	// The signer is what pkg/auth.LoadSigner accepts: a private JWK with a kid
	// (Ed25519 or ECDSA); the JWKS holds its public half under the same kid.
	signerData, err := os.ReadFile(filepath.Join(dir, "signer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var signer jose.JSONWebKey
	if err := signer.UnmarshalJSON(signerData); err != nil {
		t.Fatalf("signer.json is not a JWK: %v", err)
	}
	if signer.IsPublic() || !signer.Valid() || signer.KeyID == "" || signer.Algorithm != string(jose.EdDSA) {
		t.Fatalf("signer.json: want a valid private EdDSA key with a kid, got public=%v valid=%v kid=%q alg=%q",
			signer.IsPublic(), signer.Valid(), signer.KeyID, signer.Algorithm)
	}
	if info, err := os.Stat(filepath.Join(dir, "signer.json")); err != nil {
		t.Error(err)
	} else if info.Mode().Perm()&0o077 != 0 {
		t.Errorf("signer.json is readable by others (%v): write it 0600", info.Mode().Perm())
	}
	jwksData, err := os.ReadFile(filepath.Join(dir, "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwksData, &set); err != nil {
		t.Fatalf("jwks.json is not a JWKS: %v", err)
	}
	keys := set.Key(signer.KeyID)
	if len(keys) != 1 {
		t.Fatalf("jwks.json holds %d keys with kid %s, want 1", len(keys), signer.KeyID)
	}
	if !keys[0].IsPublic() {
		t.Fatalf("jwks.json holds the private key %s: publish only its public half", signer.KeyID)
	}

	// A token signed with the signer verifies with the JWKS, as the services check it.
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: signer}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(jwt.Claims{Subject: "dev-admin", Audience: jwt.Audience{"whistle"},
		Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := parsed.Claims(keys[0].Key, &claims); err != nil || claims.Subject != "dev-admin" {
		t.Fatalf("a token signed with signer.json does not verify with jwks.json: %v", err)
	}

	// The whistlectl config names the stack's address and the key.
	var ctl struct {
		Addr       string `json:"addr"`
		City       string `json:"city"`
		SigningKey string `json:"signing_key"`
	}
	ctlData, err := os.ReadFile(filepath.Join(dir, "whistlectl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(ctlData, &ctl); err != nil {
		t.Fatalf("whistlectl.yaml: %v", err)
	}
	if ctl.Addr != "gateway:7000" || ctl.City != "hh" {
		t.Errorf("whistlectl.yaml: addr %q, city %q; want gateway:7000, hh", ctl.Addr, ctl.City)
	}
	if _, err := os.Stat(filepath.Join(dir, ctl.SigningKey)); err != nil {
		t.Errorf("whistlectl.yaml's signing_key %q is not a file beside it: %v", ctl.SigningKey, err)
	}

	// Run again (the stack restarts): the key stays, so tokens stay valid.
	out := runDevkeys(t, bin, "--dir", dir, "--addr", "127.0.0.1:7000", "--city", "hh")
	again, err := os.ReadFile(filepath.Join(dir, "signer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(signerData) {
		t.Errorf("a second run replaced the key (%s): tokens minted before would stop working", strings.TrimSpace(out))
	}
	if ctlData, _ = os.ReadFile(filepath.Join(dir, "whistlectl.yaml")); !strings.Contains(string(ctlData), `"127.0.0.1:7000"`) {
		t.Errorf("a second run did not rewrite whistlectl.yaml with the new address:\n%s", ctlData)
	}

	// A JWKS without the signer's key is not kept: a new pair is made.
	if err := os.WriteFile(filepath.Join(dir, "jwks.json"), []byte(`{"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	runDevkeys(t, bin, "--dir", dir)
	if fresh, _ := os.ReadFile(filepath.Join(dir, "signer.json")); string(fresh) == string(signerData) {
		t.Errorf("the signer was kept although jwks.json no longer holds it")
	}
}
