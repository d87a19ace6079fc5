// Package timeconv converts times between Go and protobuf, treating the zero
// time and an absent timestamp as the same "not set".
package timeconv

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// ToProto returns nil for the zero time.
func ToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// FromProto returns the zero time for nil.
func FromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
