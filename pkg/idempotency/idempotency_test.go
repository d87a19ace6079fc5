package idempotency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/whistle-civic/whistle/pkg/idempotency"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestRetriesReturnTheFirstResponse(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "idemtest", nil)
	ctx := context.Background()
	var runs atomic.Int32
	call := func(ctx context.Context) (*wrapperspb.Int32Value, error) {
		return wrapperspb.Int32(runs.Add(1)), nil
	}
	var wg sync.WaitGroup
	got := make([]int32, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := idempotency.Do(ctx, db, "xc-urban", "req-1", "Accept", call)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = r.GetValue()
		}()
	}
	wg.Wait()
	for _, v := range got {
		if v != 1 {
			t.Fatalf("responses %v: every retry must get the first response", got)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}
	// Another scope or id runs again; the same id for another method is refused.
	if r, _ := idempotency.Do(ctx, db, "xc-water", "req-1", "Accept", call); r.GetValue() != 2 {
		t.Fatalf("another scope: %v", r)
	}
	if _, err := idempotency.Do(ctx, db, "xc-urban", "req-1", "Resolve", call); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("id reused for another method: %v", err)
	}
}

func TestFailuresAreNotStored(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, "idemtest", nil)
	ctx := context.Background()
	boom := errors.New("boom")
	_, err := idempotency.Do(ctx, db, "s", "r", "M", func(context.Context) (*wrapperspb.Int32Value, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	r, err := idempotency.Do(ctx, db, "s", "r", "M", func(context.Context) (*wrapperspb.Int32Value, error) { return wrapperspb.Int32(7), nil })
	if err != nil || r.GetValue() != 7 {
		t.Fatalf("retry after a failure: %v, %v", r, err)
	}
}
