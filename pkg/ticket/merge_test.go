package ticket_test

import (
	"errors"
	"testing"

	"github.com/whistle-civic/whistle/pkg/ticket"
)

func TestMayMerge(t *testing.T) {
	t.Parallel()
	dup := ticket.Side{ID: "d", Category: "road_damage", Status: ticket.Dispatched}
	open := func(cat string, st ticket.Status) ticket.Side { return ticket.Side{ID: "o", Category: cat, Status: st} }
	tests := []struct {
		name     string
		original ticket.Side
		across   bool
		want     error
	}{
		{"same matter, open", open("road_damage", ticket.Accepted), false, nil},
		{"same matter, resolved", open("road_damage", ticket.Resolved), false, nil},
		{"itself", dup, false, ticket.ErrMergeSelf},
		{"closed", open("road_damage", ticket.Closed), false, ticket.ErrOriginalEnded},
		{"cancelled", open("road_damage", ticket.Cancelled), false, ticket.ErrOriginalEnded},
		{"merged itself", open("road_damage", ticket.Merged), true, ticket.ErrOriginalEnded},
		{"other matter", open("noise", ticket.Dispatched), false, ticket.ErrOtherMatter},
		{"other matter, said so", open("noise", ticket.Dispatched), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := ticket.MayMerge(dup, tt.original, tt.across); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("MayMerge = %v; want %v", err, tt.want)
			}
		})
	}
}
