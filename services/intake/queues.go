package intake

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/whistle-civic/whistle/pkg/notify"
	"github.com/whistle-civic/whistle/pkg/platform"
	"github.com/whistle-civic/whistle/pkg/postgres"
	"github.com/whistle-civic/whistle/pkg/telemetry"
	"github.com/whistle-civic/whistle/pkg/webhook"
)

func (s *Service) newDeliverer(cfg WebhookConfig) *deliverer {
	d := &deliverer{queue: s.store, cfg: cfg, clock: s.clock, log: s.log, tracer: s.tracer,
		sender: &webhook.Sender{Client: cfg.Egress.Client(cfg.Timeout), Propagator: telemetry.Propagator}}
	var err error
	if d.metrics, err = newDeliveryMetrics(s.deps.Telemetry.Meter.Meter("whistle/" + Name)); err != nil {
		s.log.Warn("webhook metrics unavailable", "err", err)
	}
	return d
}

func (s *Service) newNotifier(cfg NoticeConfig) *notifier {
	if cfg.Notifier == nil {
		cfg.Notifier = notify.Log{Logger: s.log}
	}
	n := &notifier{queue: s.store, cfg: cfg, code: s.evaluationCode, clock: s.clock, log: s.log}
	var err error
	if n.sent, err = s.deps.Telemetry.Meter.Meter("whistle/"+Name).Int64Counter("whistle.notices",
		metric.WithDescription("Residents' notices (SMS), by kind (resolved, closed) and outcome: sent (handed to the notifier), retry or failed")); err != nil {
		s.log.Warn("notice metrics unavailable", "err", err)
	}
	return n
}

// runQueues sends the queued webhooks and notices until ctx ends, woken by
// one LISTEN connection on both queues' channels.
func (s *Service) runQueues(ctx context.Context) {
	hooks, notices := make(chan struct{}, 1), make(chan struct{}, 1)
	hooksChannel, noticeChannel := s.deps.DB.Schema+"_"+webhooksChannel, s.deps.DB.Schema+"_"+noticesChannel
	var wg sync.WaitGroup
	wg.Go(func() {
		postgres.Listener{DB: s.deps.DB, Channels: []string{hooksChannel, noticeChannel}, Log: s.log,
			Notify: func(channel, _ string) {
				if channel == hooksChannel {
					platform.Signal(hooks)
				} else {
					platform.Signal(notices)
				}
			},
			Connected: func() { platform.Signal(hooks); platform.Signal(notices) }}.Run(ctx)
	})
	wg.Go(func() { platform.Drain(ctx, hooks, s.webhooks.Poll, s.log, "webhook delivery", s.deliver.round) })
	wg.Go(func() { platform.Drain(ctx, notices, s.notices.cfg.Poll, s.log, "notices", s.notices.round) })
	wg.Wait()
}
