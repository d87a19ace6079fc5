// Package ids makes the unique ids Whistle uses inside: UUIDv7, which sort by
// creation time and so keep B-tree indexes compact.
package ids

import "github.com/google/uuid"

// New returns a new UUIDv7 in its canonical string form. It panics only if the
// operating system's random source fails, which the uuid package treats as fatal.
func New() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Valid reports whether s is a UUID in canonical form.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
