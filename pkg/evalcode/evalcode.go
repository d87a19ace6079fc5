// Package evalcode makes and checks the one-time evaluation codes residents
// judge their own report's result with. A code is derived from the ticket's
// id with a server key (HMAC-SHA256), so no code, and no hash of one, is
// stored or travels in any event: whoever reads the stream or a database
// learns nothing to try offline. Intake, which hands the code out, and
// evaluation, which checks it, hold the same keys.
package evalcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// Alphabet is what codes are written in: capital letters and digits, without
// those easy to confuse (0/O, 1/I/L).
const Alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// Length is how many characters a code has: 31^8 ≈ 8.5·10^11 codes, which
// the evaluation service's lock after a handful of wrong tries per ticket
// puts far out of reach of guessing.
const Length = 8

// MinKeyBytes is the shortest key accepted.
const MinKeyBytes = 32

// domain separates these MACs from any other use of the same key.
const domain = "whistle evaluation code v1\x00"

// Keys derive and check codes. The first key derives new codes; every key
// checks them, so a key can be rotated: add the new one first, keep the old
// one after it until the tickets it coded are closed.
type Keys struct {
	keys [][]byte
}

// ErrNoKeys: a key set must hold at least one key.
var ErrNoKeys = errors.New("evaluation code keys: none given")

// New returns a key set; it fails without keys or with a key shorter than
// MinKeyBytes.
func New(keys ...[]byte) (*Keys, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("evaluation code key %d has %d bytes: use at least %d random bytes", i+1, len(k), MinKeyBytes)
		}
	}
	return &Keys{keys: keys}, nil
}

// Code returns the ticket's code.
func (k *Keys) Code(ticketID string) string { return derive(k.keys[0], ticketID) }

// Check reports whether code is the ticket's, under any of the keys. Case,
// spaces and hyphens do not matter ("abcd-2345" is "ABCD2345"). It takes the
// same time whichever character differs.
func (k *Keys) Check(ticketID, code string) bool {
	code = Normalize(code)
	ok := false
	for _, key := range k.keys {
		ok = hmac.Equal([]byte(derive(key, ticketID)), []byte(code)) || ok
	}
	return ok
}

// Normalize writes a code as it is derived: capitals, without spaces or hyphens.
func Normalize(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(code))
}

// derive is the first Length base-31 digits of the ticket's MAC under key.
func derive(key []byte, ticketID string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(domain + ticketID))
	n := new(big.Int).SetBytes(mac.Sum(nil))
	base, digit := big.NewInt(int64(len(Alphabet))), new(big.Int)
	out := make([]byte, Length)
	for i := range out {
		n.DivMod(n, base, digit)
		out[i] = Alphabet[digit.Int64()]
	}
	return string(out)
}

// Load reads a key file: one base64-encoded key per line (blank lines and
// lines starting with # are skipped), the current key first.
func Load(path string) (*Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evaluation code keys: %w (make a key file with `whistle keys evaluation-code FILE`)", err)
	}
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("evaluation code keys %s, line %d: not base64: write each key as base64 on a line of its own", path, i+1)
		}
		keys = append(keys, k)
	}
	ks, err := New(keys...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}

// Ensure returns the keys in path, first writing a file with one new random
// key (0600, its folder 0700) when there is none: `whistle dev`'s keys.
func Ensure(path string) (*Keys, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := Generate(path); err != nil {
			return nil, err
		}
	}
	return Load(path)
}

// Generate writes a key file with one new random key, refusing to overwrite one.
func Generate(path string) error {
	key := make([]byte, MinKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("evaluation code key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("evaluation code key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("evaluation code key: %w (remove the file first to replace its keys)", err)
	}
	_, err = fmt.Fprintf(f, "# Whistle evaluation code keys: one base64 key a line, the current one first.\n%s\n",
		base64.StdEncoding.EncodeToString(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
