package intake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/whistle-civic/whistle/pkg/audit"
	"github.com/whistle-civic/whistle/pkg/ids"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

// webhookStore is what the webhook use cases need from storage.
type webhookStore interface {
	AddWebhook(ctx context.Context, sub Subscription) error
	Subscriptions(ctx context.Context, counts bool) ([]Subscription, error)
	Webhook(ctx context.Context, id string) (Subscription, error)
	RemoveWebhook(ctx context.Context, id string) (Subscription, error)
	WebhookFailures(ctx context.Context, webhookID string, before int64, limit int) ([]failure, error)
	Grids(ctx context.Context, ticketIDs []string) (map[string]string, error)
	EnqueueDeliveries(ctx context.Context, ds []delivery, now time.Time) error
	ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]claimed, error)
	SettleDeliveries(ctx context.Context, ss []settlement, now time.Time) error
	PurgeWebhookFailures(ctx context.Context, cutoff time.Time) error
}

// NewWebhook is a subscription to add.
type NewWebhook struct {
	URL         string
	EventTypes  []string
	Units       []string
	Description string
	// Secret in its text form; empty to have one made.
	Secret string
	// By is the administrator adding it.
	By string
}

// AddWebhook checks and stores a subscription, audited, and returns it with
// its secret. It fails wrapping ErrBadWebhook for a URL the egress policy
// refuses, an event type that is not delivered, an org unit the tree does
// not hold or a malformed secret, and with ErrTooManyWebhooks.
func (s *Service) AddWebhook(ctx context.Context, in NewWebhook) (Subscription, error) {
	sub, err := s.checkWebhook(ctx, in)
	if err != nil {
		return Subscription{}, err
	}
	err = s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := s.store.AddWebhook(ctx, sub); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "webhook.add", Detail: webhookDetail(sub)})
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("add webhook for %s: %w", sub.URL, err)
	}
	s.log.InfoContext(ctx, "webhook added", "webhook_id", sub.ID, "url", sub.URL, "event_types", sub.EventTypes, "org_units", sub.Units)
	return sub, nil
}

// checkWebhook makes the subscription in describes, or says what is wrong.
func (s *Service) checkWebhook(ctx context.Context, in NewWebhook) (Subscription, error) {
	u, err := s.webhooks.Egress.CheckURL(in.URL)
	if err != nil {
		return Subscription{}, fmt.Errorf("%w: url: %w", ErrBadWebhook, err)
	}
	types := sortedSet(in.EventTypes)
	for _, t := range types {
		if !deliverable(t) {
			return Subscription{}, fmt.Errorf("%w: event type %q is not delivered; choose from %s", ErrBadWebhook, t,
				strings.Join(deliverableTypes(), ", "))
		}
	}
	units := sortedSet(in.Units)
	for _, unit := range units {
		known, err := s.deps.Tree().Known(ctx, unit)
		if err != nil {
			return Subscription{}, err
		}
		if !known {
			return Subscription{}, fmt.Errorf("%w: org unit %q is not in the active org tree; name a unit the catalog holds", ErrBadWebhook, unit)
		}
	}
	secret := in.Secret
	if secret == "" {
		if secret, err = webhook.NewSecret(); err != nil {
			return Subscription{}, err
		}
	} else if _, err := webhook.ParseSecret(secret); err != nil {
		return Subscription{}, fmt.Errorf("%w: secret: %w; leave it empty to have one made", ErrBadWebhook, err)
	}
	return Subscription{ID: ids.New(), URL: u.String(), Secret: secret, EventTypes: types, Units: units,
		Description: in.Description, CreatedAt: s.clock.Now(), CreatedBy: in.By}, nil
}

// sortedSet returns the distinct values, sorted; never nil.
func sortedSet(vs []string) []string {
	out := slices.Compact(slices.Sorted(slices.Values(vs)))
	if out == nil {
		return []string{}
	}
	return out
}

func webhookDetail(sub Subscription) string {
	return fmt.Sprintf("webhook %s: %s, event types [%s], org units [%s]", sub.ID, sub.URL,
		strings.Join(sub.EventTypes, " "), strings.Join(sub.Units, " "))
}

// ListWebhooks returns every subscription with its counts, oldest first.
func (s *Service) ListWebhooks(ctx context.Context) ([]Subscription, error) {
	return s.store.Subscriptions(ctx, true)
}

// RemoveWebhook ends a subscription, audited, dropping what waited for it;
// ErrWebhookNotFound if none has the id.
func (s *Service) RemoveWebhook(ctx context.Context, id string) (Subscription, error) {
	var sub Subscription
	err := s.deps.DB.InTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if sub, err = s.store.RemoveWebhook(ctx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Action: "webhook.remove", Detail: webhookDetail(sub)})
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("remove webhook %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "webhook removed", "webhook_id", sub.ID, "url", sub.URL)
	return sub, nil
}

// TestWebhook sends a signed test event to a subscription now and returns
// what came of it; nothing is recorded or retried.
func (s *Service) TestWebhook(ctx context.Context, id string) (webhook.Result, string, error) {
	sub, err := s.store.Webhook(ctx, id)
	if err != nil {
		return webhook.Result{}, "", err
	}
	key, err := webhook.ParseSecret(sub.Secret)
	if err != nil {
		return webhook.Result{}, "", fmt.Errorf("webhook %s has an unusable secret: %w", id, err)
	}
	ev := webhook.Event{ID: ids.New(), Source: "/whistle/" + Name, Type: cloudTestType, Subject: sub.ID, Time: s.clock.Now(),
		Data: []byte(`{"webhook_id":"` + sub.ID + `"}`)}
	res := s.deliver.sender.Send(ctx, sub.URL, key, ev)
	s.deliver.metrics.record(ctx, res)
	return res, ev.ID, nil
}

// MaxFailurePage is the most failures one page lists; DefaultFailurePage
// when none is asked.
const (
	MaxFailurePage     = 500
	DefaultFailurePage = 50
)

// WebhookFailures returns a page of the deliveries given up on, newest
// first, and the id to continue before (0 on the last page).
func (s *Service) WebhookFailures(ctx context.Context, webhookID string, before int64, size int) ([]failure, int64, error) {
	if size <= 0 {
		size = DefaultFailurePage
	}
	size = min(size, MaxFailurePage)
	fs, err := s.store.WebhookFailures(ctx, webhookID, before, size+1)
	if err != nil || len(fs) <= size {
		return fs, 0, err
	}
	return fs[:size], fs[size-1].ID, nil
}
