package monitoring

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
)

// TestRebuildWaitsForLiveProjectionAndShutsItOut holds a live projection
// transaction open: a rebuild waits for it (instead of failing), keeps new
// live transactions out meanwhile, and a second rebuild is refused.
func TestRebuildWaitsForLiveProjectionAndShutsItOut(t *testing.T) {
	t.Parallel()
	deps := platformtest.Deps(t, Name, Migrations(), nil, nil)
	svc, err := New(deps, Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := svc.store.(*store)
	ctx := context.Background()
	entered, release, liveDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		liveDone <- deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error {
			if err := st.Enter(ctx); err != nil {
				return err
			}
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered

	rebuilt := make(chan error, 1)
	inside := make(chan struct{})
	go func() {
		rebuilt <- st.Exclusive(ctx, func(ctx context.Context) error {
			close(inside)
			if err := st.Exclusive(ctx, func(context.Context) error { return nil }); !errors.Is(err, ErrRebuilding) {
				return errors.New("a second rebuild was not refused")
			}
			return nil
		})
	}()
	// Once the rebuild queues for the gate, new live transactions are turned away.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error { return st.Enter(ctx) })
		if errors.Is(err, errGateClosed) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("live projection still enters while a rebuild waits: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-inside:
		t.Fatal("the rebuild ran while a live projection was in flight")
	default:
	}
	close(release)
	if err := <-liveDone; err != nil {
		t.Fatal(err)
	}
	if err := <-rebuilt; err != nil {
		t.Fatalf("rebuild after the live projection ended: %v", err)
	}
	if err := deps.DB.InTx(ctx, func(ctx context.Context, _ pgx.Tx) error { return st.Enter(ctx) }); err != nil {
		t.Fatalf("live projection after the rebuild: %v", err)
	}
}
