// Package intake is the intake service (吹哨): it takes whistles in from grids,
// communities, hotlines and other systems, keeps them as reported, and
// announces each new ticket with a reported event. It also turns monitoring's
// hot spots (proactive events) into proactive tickets.
//
// Files: service.go wires the service; report.go, get.go, list.go and
// proactive.go are its use cases over the plain values in ticket.go;
// store.go (PostgreSQL), grpc.go (the API) and events.go (JetStream) are the
// adapters at its edges.
package intake

import (
	"context"
	"embed"
	"io/fs"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/whistle-civic/whistle/pkg/clock"
	"github.com/whistle-civic/whistle/pkg/evalcode"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/platform"
	"log/slog"
)

// Name is the service's name: its schema, consumer and telemetry name.
const Name = "intake"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the intake schema's migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Config is the intake service's own configuration.
type Config struct {
	// City prefixes ticket numbers, e.g. "HH" gives "HH-20261126-00042". Default "HH".
	City string
	// TimeZone decides which day a ticket number counts in. Default Asia/Shanghai.
	TimeZone *time.Location
	// Backpressure bounds how far accepted reports may fall behind before
	// new ones are refused. Zero values: the defaults (see Backpressure).
	Backpressure Backpressure
	// Codes derive the one-time evaluation code each new ticket's reporting
	// resident judges the result with (evaluation checks it with the same
	// keys). Default (nil): no code is given.
	Codes *evalcode.Keys
	// Duplicates says what makes two reports likely the same matter
	// (radius, window). Zero values: the defaults (see Likeness).
	Duplicates Likeness
	// Media keeps photos and videos (see MediaConfig). Default: none kept.
	Media MediaConfig
	// Webhooks shapes the delivery of webhooks (see WebhookConfig).
	Webhooks WebhookConfig
	// Notices shapes the residents' SMS notices (see NoticeConfig).
	Notices NoticeConfig
}

// Service is the intake service.
type Service struct {
	deps  platform.Deps
	store interface {
		reportStore
		ticketReader
		ticketLister
		duplicateStore
		mediaStore
		importStore
		webhookStore
		noticeQueue
		apiKeyStore
		PurgeNotices(ctx context.Context, cutoff time.Time) error
	}
	webhooks WebhookConfig
	keys     keyLimits
	deliver  *deliverer
	notices  *notifier
	likeness Likeness
	media    MediaConfig
	uploads  chan struct{}
	numbers  *numbers
	pressure *pressure
	codes    *evalcode.Keys
	clock    clock.Clock
	log      *slog.Logger
	tracer   trace.Tracer
}

// New builds the service on its dependencies.
func New(d platform.Deps, cfg Config) *Service {
	if cfg.City == "" {
		cfg.City = "HH"
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = time.FixedZone("CST", 8*3600)
	}
	st := &store{db: d.DB}
	cfg.Media = cfg.Media.withDefaults()
	s := &Service{
		deps: d, store: st, clock: d.Clock, log: d.Log,
		numbers:  &numbers{city: cfg.City, loc: cfg.TimeZone, src: st},
		pressure: newPressure(cfg.Backpressure, d.DB, d.Bus, d.Log),
		codes:    cfg.Codes,
		likeness: cfg.Duplicates.withDefaults(),
		media:    cfg.Media,
		uploads:  make(chan struct{}, cfg.Media.MaxConcurrent),
		tracer:   d.Telemetry.Tracer.Tracer("whistle/" + Name),
	}
	s.webhooks = cfg.Webhooks.withDefaults()
	s.deliver, s.notices = s.newDeliverer(s.webhooks), s.newNotifier(cfg.Notices)
	// Failures are listed for FailureRetention, then swept.
	s.deps.Purges = append(s.deps.Purges,
		platform.Purge{Name: "webhook failures", Retention: s.webhooks.FailureRetention, Delete: st.PurgeWebhookFailures},
		platform.Purge{Name: "failed notices", Retention: s.webhooks.FailureRetention, Delete: st.PurgeNotices})
	// Files attached to no ticket OrphanAfter after their upload are swept
	// by the platform's janitor, a bounded batch a minute.
	s.deps.Purges = append(s.deps.Purges, platform.Purge{Name: "unattached media", Retention: s.media.OrphanAfter,
		Delete: func(ctx context.Context, cutoff time.Time) error {
			_, err := s.SweepMedia(ctx, cutoff, sweepBatch)
			return err
		}})
	return s
}

// sweepBatch is how many unattached files a sweep removes at most.
const sweepBatch = 100

// Register adds the IntakeService, WebhookService and Open311KeyService APIs to a gRPC server.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	whistlev1.RegisterIntakeServiceServer(r, &grpcServer{svc: s, places: s.deps.Tree()})
	whistlev1.RegisterWebhookServiceServer(r, &webhookServer{svc: s})
	whistlev1.RegisterOpen311KeyServiceServer(r, &open311KeyServer{svc: s})
}

// Run relays the outbox, consumes proactive events and follows every ticket's
// status (for the duplicates it offers and the notices it sends), queues and
// sends webhooks and notices, keeps the org tree
// dispatch announces and reads the backlog figures Report's backpressure
// decides on, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.pressure.run(ctx) })
	wg.Go(func() { s.runQueues(ctx) })
	types, apply := platform.Route(s.routes())
	err := platform.Run(ctx, s.deps, platform.Consumer{Name: Name, EventTypes: types, Apply: apply, ApplySet: s.applySet},
		s.webhookConsumer())
	cancel()
	wg.Wait()
	return err
}
