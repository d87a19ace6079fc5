package evalcode_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/evalcode"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, evalcode.MinKeyBytes) }

func TestCodesAreDerivedPerTicketAndChecked(t *testing.T) {
	t.Parallel()
	k, err := evalcode.New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	a, b := k.Code("0193a1b2-0000-7000-8000-000000000001"), k.Code("0193a1b2-0000-7000-8000-000000000002")
	if len(a) != evalcode.Length || a == b || strings.Trim(a, evalcode.Alphabet) != "" {
		t.Fatalf("codes %q and %q", a, b)
	}
	if a != k.Code("0193a1b2-0000-7000-8000-000000000001") {
		t.Fatal("a ticket's code changes")
	}
	lower := strings.ToLower(a[:4]) + "-" + a[4:] + " "
	tests := []struct {
		name, ticket, code string
		ok                 bool
	}{
		{"its own", "0193a1b2-0000-7000-8000-000000000001", a, true},
		{"written loosely", "0193a1b2-0000-7000-8000-000000000001", lower, true},
		{"another ticket's", "0193a1b2-0000-7000-8000-000000000001", b, false},
		{"empty", "0193a1b2-0000-7000-8000-000000000001", "", false},
		{"one character off", "0193a1b2-0000-7000-8000-000000000001", a[:7] + string(rune(a[7]^1)), false},
	}
	for _, tt := range tests {
		if got := k.Check(tt.ticket, tt.code); got != tt.ok {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.ok)
		}
	}
	other, _ := evalcode.New(key(2))
	if other.Check("0193a1b2-0000-7000-8000-000000000001", a) {
		t.Fatal("another key accepts the code")
	}
	rotated, _ := evalcode.New(key(2), key(1))
	if !rotated.Check("0193a1b2-0000-7000-8000-000000000001", a) || rotated.Code("x") != other.Code("x") {
		t.Fatal("after a rotation, old codes must still check and new ones come from the new key")
	}
}

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	if _, err := evalcode.New(); err == nil {
		t.Fatal("no keys accepted")
	}
	if _, err := evalcode.New([]byte("short")); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a short key: %v", err)
	}
	path := filepath.Join(t.TempDir(), "auth", "evaluation-code.keys")
	k, err := evalcode.Ensure(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := evalcode.Ensure(path)
	if err != nil || again.Code("t") != k.Code("t") {
		t.Fatalf("the key file is not kept: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := evalcode.Generate(path); err == nil {
		t.Fatal("Generate overwrote a key file")
	}
	bad := filepath.Join(t.TempDir(), "bad.keys")
	_ = os.WriteFile(bad, []byte("# comment\nnot base64!\n"), 0o600)
	if _, err := evalcode.Load(bad); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("a bad line: %v", err)
	}
}
