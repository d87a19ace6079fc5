package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

// progressCall is one call of Replay's progress.
type progressCall struct{ done, total uint64 }

func TestReplayDeliversStoredEventsInOrder(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	want := []string{"a", "b", "c", "d", "e"}
	for i, id := range want {
		publish(t, b, []string{"reported", "closed"}[i%2], id)
	}
	if _, err := b.JetStream().Publish(ctx, b.DLQSubject("svc"), []byte("dead")); err != nil {
		t.Fatal(err)
	}
	var got []string
	var progress []progressCall
	n, err := b.Replay(ctx, func(_ context.Context, m *bus.Message) error {
		if len(got) == 0 {
			publish(t, b, "reported", "late1")
			publish(t, b, "reported", "late2")
		}
		if m.Deliveries != 1 || m.Header.Get(jetstream.MsgIDHeader) != string(m.Data) || b.Subject(m.EventType) != m.Subject {
			t.Errorf("message %+v", m)
		}
		got = append(got, string(m.Data))
		return nil
	}, func(done, total uint64) { progress = append(progress, progressCall{done, total}) })
	if err != nil || n != 5 || !slices.Equal(got, want) {
		t.Fatalf("Replay = %d, %v, delivering %v; want 5, nil, delivering %v", n, err, got, want)
	}
	if !slices.Equal(progress, []progressCall{{5, 5}}) {
		t.Errorf("progress calls %v; want [{5 5}]", progress)
	}
	if n, err := b.Replay(ctx, func(context.Context, *bus.Message) error { return nil }, nil); n != 7 || err != nil {
		t.Fatalf("second Replay = %d, %v; want 7 (with the late events), nil", n, err)
	}
}

func TestReplayReportsProgressEveryThousandEvents(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	ctx := context.Background()
	for i := range 2500 {
		if _, err := b.JetStream().PublishAsync(b.Subject("reported"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-b.JetStream().PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("timed out publishing")
	}
	var progress []progressCall
	n, err := b.Replay(ctx, func(context.Context, *bus.Message) error { return nil },
		func(done, total uint64) { progress = append(progress, progressCall{done, total}) })
	want := []progressCall{{1000, 2500}, {2000, 2500}, {2500, 2500}}
	if n != 2500 || err != nil || !slices.Equal(progress, want) {
		t.Fatalf("Replay = %d, %v with progress %v; want 2500, nil with %v", n, err, progress, want)
	}
}

func TestReplayStopsAtFirstError(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	for _, id := range []string{"a", "b", "c"} {
		publish(t, b, "reported", id)
	}
	errBroken := errors.New("read model broken")
	n, err := b.Replay(context.Background(), func(_ context.Context, m *bus.Message) error {
		if string(m.Data) == "b" {
			return errBroken
		}
		return nil
	}, nil)
	if n != 1 || !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "stream sequence 2") {
		t.Fatalf("Replay = %d, %v; want 1 and the error at stream sequence 2", n, err)
	}
}

func TestReplayOfEmptyStream(t *testing.T) {
	t.Parallel()
	b := natstest.New(t).Connect(t, "test")
	n, err := b.Replay(context.Background(), func(context.Context, *bus.Message) error {
		t.Error("fn called on an empty stream")
		return nil
	}, func(done, total uint64) { t.Errorf("progress(%d, %d) called on an empty stream", done, total) })
	if n != 0 || err != nil {
		t.Fatalf("Replay = %d, %v; want 0, nil", n, err)
	}
}
