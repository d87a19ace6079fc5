package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/events"

	"github.com/whistle-civic/whistle/cmd/internal/stack"
)

// Work is the durable work the loop did per ticket, counted in the
// services' tables after the run: every event a service published is a row
// of its outbox, every event a consumer applied a row of its inbox.
type Work struct {
	// Tickets counted over (the run's reported tickets).
	Tickets int `json:"tickets"`
	// MutatingRPCs that succeeded, per ticket: each commits once.
	MutatingRPCs float64 `json:"mutating_rpcs"`
	// Published events (outbox rows) per ticket: one JetStream publish each.
	Published float64 `json:"published"`
	// Consumed events (inbox rows) per ticket: one consume and ack each.
	Consumed float64 `json:"consumed"`
	// ConsumeCommits are the transactions those inbox rows were written in
	// (distinct processed_at per schema: now() is the transaction's start),
	// per ticket; equal to Consumed when each event commits alone.
	ConsumeCommits float64 `json:"consume_commits"`
	// RelayCommits are the relays' mark-sent transactions (distinct sent_at
	// per schema), per ticket; a relay marks a batch of events at once.
	RelayCommits float64 `json:"relay_commits"`
	// Commits = MutatingRPCs + ConsumeCommits + RelayCommits.
	Commits float64 `json:"commits"`
	// Unsent events of the run still in an outbox when counted.
	Unsent int `json:"unsent"`
	// Floor is the work each floor ticket does: the figures above rounded.
	Floor FloorWork `json:"floor"`
}

// countWork counts the durable work of the run's tickets in the database at
// url, in every service's schema, since `since`.
func countWork(ctx context.Context, url string, tickets []string, mutations int, since time.Time) (*Work, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL to count the work per ticket: %w (pass --database-url, or --no-floor)", err)
	}
	defer conn.Close(ctx)
	ours := make(map[string]bool, len(tickets))
	for _, id := range tickets {
		ours[id] = true
	}
	var c counter
	c.events = map[string]bool{}
	for _, schema := range stack.Names {
		if err := c.outbox(ctx, conn, schema, ours, since); err != nil {
			return nil, err
		}
	}
	for _, schema := range stack.Names {
		if err := c.inbox(ctx, conn, schema, since); err != nil {
			return nil, err
		}
	}
	return c.work(len(tickets), mutations), nil
}

// counter tallies rows of the run's events.
type counter struct {
	events                      map[string]bool // the run's event ids
	published, consumed, unsent int
	relayTx, consumeTx          int
}

func (c *counter) outbox(ctx context.Context, conn *pgx.Conn, schema string, ours map[string]bool, since time.Time) error {
	rows, err := conn.Query(ctx, `SELECT event_id::text, payload, sent_at FROM `+pgx.Identifier{schema, "outbox"}.Sanitize()+
		` WHERE created_at >= $1`, since)
	if err != nil {
		return fmt.Errorf("read %s's outbox: %w", schema, err)
	}
	batches := map[time.Time]bool{}
	var id string
	var payload []byte
	var sent *time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &payload, &sent}, func() error {
		ev, err := events.Decode(payload)
		if err != nil || !ours[ev.GetTicketId()] {
			return nil
		}
		c.events[id] = true
		c.published++
		if sent == nil {
			c.unsent++
		} else {
			batches[*sent] = true
		}
		return nil
	})
	c.relayTx += len(batches)
	return err
}

func (c *counter) inbox(ctx context.Context, conn *pgx.Conn, schema string, since time.Time) error {
	rows, err := conn.Query(ctx, `SELECT event_id::text, processed_at FROM `+pgx.Identifier{schema, "inbox"}.Sanitize()+
		` WHERE processed_at >= $1`, since)
	if err != nil {
		return fmt.Errorf("read %s's inbox: %w", schema, err)
	}
	txs := map[time.Time]bool{}
	var id string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
		if c.events[id] {
			c.consumed++
			txs[at] = true
		}
		return nil
	})
	c.consumeTx += len(txs)
	return err
}

func (c *counter) work(tickets, mutations int) *Work {
	n := float64(max(tickets, 1))
	w := &Work{Tickets: tickets, MutatingRPCs: float64(mutations) / n, Published: float64(c.published) / n,
		Consumed: float64(c.consumed) / n, ConsumeCommits: float64(c.consumeTx) / n, RelayCommits: float64(c.relayTx) / n,
		Unsent: c.unsent}
	w.Commits = w.MutatingRPCs + w.ConsumeCommits + w.RelayCommits
	w.Floor = FloorWork{Commits: round(w.Commits), Publishes: max(round(w.Published), 1), Consumes: round(w.Consumed)}
	return w
}

func round(v float64) int { return int(math.Round(v)) }
