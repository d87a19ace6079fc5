package bus_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

// TestConsumeBatchHandsOverWhatIsWaiting: messages that piled up come in
// batches of at most Batch, in stream order, each message is settled on its
// own answer (acknowledged, retried, waiting or dead-lettered), and a panic
// fails the whole batch without stopping the consumer.
func TestConsumeBatchHandsOverWhatIsWaiting(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	const n = 100
	for i := range n {
		publish(t, b, "reported", fmt.Sprint(i))
	}
	publish(t, b, "reported", "fail") // fails twice, then succeeds
	publish(t, b, "reported", "wait") // waits once
	publish(t, b, "reported", "poison")
	publish(t, b, "reported", "panic") // panics once, with the rest of its batch
	var mu sync.Mutex
	seen := map[string]int{}
	var sizes []int
	var order []string
	panicked := map[string]bool{} // the batch that panicked: handled again
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.ConsumeBatch(ctx, bus.ConsumerConfig{Name: "svc", Batch: 16, MaxDeliveries: 5, LaterDelay: 10 * time.Millisecond},
			func(_ context.Context, batch []bus.Delivery) []error {
				mu.Lock()
				defer mu.Unlock()
				sizes = append(sizes, len(batch))
				errs := make([]error, len(batch))
				for i, d := range batch {
					id := string(d.Msg.Data)
					seen[id]++
					if d.Ctx == nil {
						errs[i] = errors.New("no context")
					}
					switch {
					case id == "panic" && seen[id] == 1:
						for _, d := range batch {
							panicked[string(d.Msg.Data)] = true
						}
						panic("boom")
					case id == "fail" && seen[id] <= 2:
						errs[i] = errors.New("not yet")
					case id == "wait" && seen[id] == 1:
						errs[i] = bus.ErrLater
					case id == "poison":
						errs[i] = bus.Poison(errors.New("undecodable"))
					}
					if seen[id] == 1 {
						order = append(order, id)
					}
				}
				return errs
			})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ConsumeBatch: %v", err)
		}
	})
	eventually.True(t, "every message handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n+4 && seen["fail"] == 3 && seen["wait"] == 2 && seen["panic"] >= 2
	})
	eventually.True(t, "the poison message dead-lettered", func() bool { return len(deadLetters(t, b)) == 1 })
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		want := 1
		switch {
		case id == "fail":
			want = 3
		case id == "wait":
			want = 2
		}
		if panicked[id] && id != "fail" && id != "wait" {
			want++
		}
		if c != want && !(panicked[id] && c >= want) {
			t.Errorf("message %s handled %d times; want %d (acknowledged when it first succeeded)", id, c, want)
		}
	}
	if !panicked["panic"] {
		t.Errorf("the panicking batch was not recorded")
	}
	largest := 0
	for _, s := range sizes {
		largest = max(largest, s)
	}
	if largest < 2 || largest > 16 {
		t.Errorf("batch sizes %v: want some batch of more than one and none over 16", sizes)
	}
	for i := range n {
		if order[i] != fmt.Sprint(i) {
			t.Fatalf("first deliveries out of stream order at %d: %v", i, order[:i+1])
		}
	}
}
