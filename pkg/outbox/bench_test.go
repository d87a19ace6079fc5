package outbox_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/outbox"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// BenchmarkRelayFlush measures Relay.Flush of one full batch: claiming 256
// committed outbox rows in PostgreSQL, publishing them to an in-process
// JetStream and waiting for every ack, and marking them sent. Each op first
// appends 256 rows in one transaction, untimed. events/s is rows relayed per
// second of Flush.
func BenchmarkRelayFlush(b *testing.B) {
	const batch = 256
	db := pgtest.Open(b, "relaybench", nil)
	r := &outbox.Relay{DB: db, Bus: natstest.New(b).Connect(b, "bench"), Batch: batch}
	ctx := context.Background()
	evs := make([]*whistlev1.Event, batch)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range evs {
			evs[i] = event(1)
		}
		err := db.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return outbox.Append(ctx, tx, evs...) })
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := r.Flush(ctx); err != nil || n != batch {
			b.Fatalf("Flush = %d, %v; want %d rows", n, err, batch)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
