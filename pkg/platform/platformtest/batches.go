package platformtest

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// Deliveries wraps events as the bus delivers them, for a consumer's
// inbox.Processor.HandleBatch.
func Deliveries(tb testing.TB, evs []*whistlev1.Event) []bus.Delivery {
	tb.Helper()
	out := make([]bus.Delivery, len(evs))
	for i, ev := range evs {
		data, err := proto.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		typ := events.TypeOf(ev)
		out[i] = bus.Delivery{Ctx: context.Background(), Msg: &bus.Message{Subject: "whistle.v1." + typ, EventType: typ, Data: data}}
	}
	return out
}

// Interleave orders tickets' stories as a stream carries them: by turns,
// each ticket's events in order.
func Interleave(stories [][]*whistlev1.Event) []*whistlev1.Event {
	var out []*whistlev1.Event
	for k := 0; ; k++ {
		n := len(out)
		for _, s := range stories {
			if k < len(s) {
				out = append(out, s[k])
			}
		}
		if len(out) == n {
			return out
		}
	}
}
