package events_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/events"
)

// FuzzDecode feeds Decode arbitrary bytes. It must never panic, and an event
// it accepts must survive encoding and decoding again unchanged (proto.Equal).
// Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := events.Decode(data)
		if err != nil {
			if ev != nil {
				t.Fatalf("Decode returned an event with its error %v", err)
			}
			return
		}
		again, err := proto.Marshal(ev)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v\n%v", err, ev)
		}
		back, err := events.Decode(again)
		if err != nil {
			t.Fatalf("a re-encoded event does not decode: %v\n%v", err, ev)
		}
		if !proto.Equal(ev, back) {
			t.Fatalf("encoding and decoding changed the event:\n%v\n%v", ev, back)
		}
	})
}
