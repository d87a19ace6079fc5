package intake

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/notify"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// NoticeConfig shapes the residents' notices (SMS).
type NoticeConfig struct {
	// Notifier sends them. Default: notify.Log on the service's logger,
	// which sends nothing (development).
	Notifier notify.Notifier
	// Retry spaces out the retries of a notice the notifier failed to hand
	// over, and says when to give up. Default as webhooks' (10 s doubling up
	// to 1 h, for a day).
	Retry webhook.Schedule
	// Poll is how often a replica looks for notices come due. Default 1 s.
	Poll time.Duration
}

// noticeKinds are the notices of the transitions that give one.
var noticeKinds = map[string]string{events.Resolved: notify.KindResolved, events.Closed: notify.KindClosed}

// noticeOf is the notice a followed transition gives the reporter: their
// evaluation code when the ticket is resolved, a short word when it is
// closed; none otherwise.
func noticeOf(ev *whistlev1.Event) (queuedNotice, bool) {
	kind, ok := noticeKinds[events.TypeOf(ev)]
	if !ok || ev.GetHistorical() {
		return queuedNotice{}, false
	}
	return queuedNotice{EventID: ev.GetEventId(), TicketID: ev.GetTicketId(), Kind: kind}, true
}

// noticesOf returns the notices of a batch of events.
func noticesOf(evs ...*whistlev1.Event) []queuedNotice {
	var out []queuedNotice
	for _, ev := range evs {
		if n, ok := noticeOf(ev); ok {
			out = append(out, n)
		}
	}
	return out
}

// queuedNotice is a notice to send for the event that caused it.
type queuedNotice struct {
	EventID, TicketID, Kind string
}

// noticeToSend is a claimed notice with what its text needs; Phone never
// leaves this boundary unmasked except to the notifier.
type noticeToSend struct {
	ID                  int64
	Attempt             int
	Created             time.Time
	Kind, TicketID      string
	TicketNumber, Phone string
}

// noticeQueue is the part of the store the notice loop uses.
type noticeQueue interface {
	QueueNotices(ctx context.Context, ns []queuedNotice, now time.Time) error
	ClaimNotices(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]noticeToSend, error)
	SettleNotices(ctx context.Context, ss []settlement, now time.Time) error
}

// queueNotices queues, in the transaction ctx carries, the notices of these
// changes, and wakes the notice loops once it commits.
func (s *Service) queueNotices(ctx context.Context, ns []queuedNotice) error {
	if len(ns) == 0 {
		return nil
	}
	if err := s.store.QueueNotices(ctx, ns, s.clock.Now()); err != nil {
		return err
	}
	return s.notifyQueued(ctx, noticesChannel)
}

// notifier sends the queued notices.
type notifier struct {
	queue noticeQueue
	cfg   NoticeConfig
	// code is a ticket's evaluation code ("" when none is given).
	code  func(ticketID string) string
	clock clock.Clock
	log   *slog.Logger
	sent  metric.Int64Counter
}

// noticeBatch is how many notices one round sends, one after another.
const noticeBatch = 32

// round sends one batch of due notices; more is true when it was full.
func (n *notifier) round(ctx context.Context) (more bool, err error) {
	ns, err := n.queue.ClaimNotices(ctx, n.clock.Now(), deliveryLease, noticeBatch)
	if err != nil || len(ns) == 0 {
		return false, err
	}
	out := make([]settlement, len(ns))
	for i, x := range ns {
		out[i] = n.send(ctx, x)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return len(ns) == noticeBatch, n.queue.SettleNotices(sctx, out, n.clock.Now())
}

func (n *notifier) send(ctx context.Context, x noticeToSend) settlement {
	code := ""
	if x.Kind == notify.KindResolved {
		code = n.code(x.TicketID)
	}
	notice := notify.Notice{Phone: x.Phone, Text: notify.Text(x.Kind, x.TicketNumber, code), TicketNumber: x.TicketNumber, Kind: x.Kind}
	err := n.cfg.Notifier.Notify(ctx, notice)
	outcome := "sent"
	defer func() {
		n.sent.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", x.Kind), attribute.String("outcome", outcome)))
	}()
	if err == nil {
		return settlement{ID: x.ID, Delivered: true}
	}
	next, giveUp := n.cfg.Retry.Next(x.Attempt, x.Created, n.clock.Now(), 0)
	if !giveUp {
		outcome = "retry"
		return settlement{ID: x.ID, Next: next, Error: err.Error()}
	}
	outcome = "failed"
	n.log.WarnContext(ctx, "notice given up", "ticket_number", x.TicketNumber, "notice", notice, "attempts", x.Attempt, "err", err)
	return settlement{ID: x.ID, Error: fmt.Sprintf("given up after %d attempts: %s", x.Attempt, err)}
}

// The channels a committed queue wakes its loops on.
const (
	webhooksChannel = "webhooks"
	noticesChannel  = "notices"
)

// notifyQueued wakes every replica's loop of a queue (channel) once the
// transaction ctx carries commits.
func (s *Service) notifyQueued(ctx context.Context, channel string) error {
	return postgres.Notify(ctx, s.deps.DB.Q(ctx), s.deps.DB.Schema+"_"+channel, "")
}
