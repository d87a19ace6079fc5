package postgres

import "time"

// NullTime turns the zero time into NULL for a nullable timestamptz column.
func NullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// TimeOf turns a nullable timestamptz read back into a UTC time (zero for NULL).
func TimeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Texts returns s, or an empty list for nil: what a NOT NULL text[] column
// takes (pgx encodes a nil slice as NULL).
func Texts(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
