package intake

import (
	"crypto/rand"

	"github.com/whistle-civic/whistle/pkg/ids"
)

// codeAlphabet leaves out letters and digits that are easy to confuse (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newEvaluationCode returns a random one-time code for the reporting resident
// to judge the result with, and the hash that is kept of it.
func newEvaluationCode() (code, hash string) {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b), ids.CodeHash(string(b))
}
