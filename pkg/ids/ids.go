// Package ids makes the unique ids Whistle uses inside: UUIDv7, which sort by
// creation time and so keep B-tree indexes compact.
package ids

import (
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// New returns a new UUIDv7 in its canonical string form. It panics only if the
// operating system's random source fails, which the uuid package treats as fatal.
func New() string {
	return uuid.Must(uuid.NewV7()).String()
}

// NewAt returns a new UUIDv7 whose time is at (to the millisecond) instead
// of now, for things that happened before they were recorded here (imported
// history), so that they sort among the others by when they happened. Times
// before 1970 are taken as 1970.
func NewAt(at time.Time) string {
	u := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(max(at.UnixMilli(), 0)))
	copy(u[:6], ms[2:])
	return u.String()
}

// Valid reports whether s is a UUID in canonical form.
func Valid(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
