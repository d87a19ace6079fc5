package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/natstest"
)

// securedEnv is an in-process server admitting only the services' users
// (the external test server has no users, so these tests never use it).
func securedEnv(t *testing.T) *natstest.Env {
	t.Helper()
	cfg := bus.Config{ConnectWait: 10 * time.Second}
	users, err := natsserver.ServiceUsers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Users: natsserver.Sorted(users), Listen: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &natstest.Env{Config: cfg, Server: srv, Options: []nats.Option{srv.ConnectOption()}, Users: users}
}

func TestConnectWithoutTheRightCredentialsIsRefused(t *testing.T) {
	t.Parallel()
	env := securedEnv(t)
	for _, c := range []struct {
		name      string
		auth      bus.Auth
		inProcess bool
	}{
		{"no credentials", bus.Auth{}, false},
		{"wrong password", bus.Auth{User: events.Dispatch, Password: "not-the-password"}, false},
		{"unknown user", bus.Auth{User: "mallory", Password: env.Users[events.Dispatch].Password}, false},
		{"another's password", bus.Auth{User: events.Dispatch, Password: env.Users[events.Intake].Password}, false},
		// The in-process server closes its pipe without a word, after its 10 s write deadline.
		{"no credentials, in-process", bus.Auth{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, opts := env.Config, []nats.Option(nil)
			cfg.Auth, cfg.URL = c.auth, env.Server.URL()
			if c.inProcess {
				cfg.URL, opts = "", env.Options
			}
			start := time.Now()
			b, err := bus.Connect(context.Background(), cfg, opts...)
			if err == nil {
				b.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, bus.ErrNotAuthorized) || !strings.Contains(err.Error(), "WHISTLE_NATS_USER") {
				t.Fatalf("error %v: want ErrNotAuthorized saying what to check", err)
			}
			if c.auth.Password != "" && strings.Contains(err.Error(), c.auth.Password) {
				t.Fatalf("the error shows the password: %v", err)
			}
			if took, most := time.Since(start), map[bool]time.Duration{false: 2 * time.Second, true: 15 * time.Second}[c.inProcess]; took > most {
				t.Errorf("refused after %s: a refusal must not wait for ConnectWait", took)
			}
		})
	}
}

// publishAs publishes one event of a type as b's user, waiting at most 2 s
// for JetStream's ack.
func publishAs(b *bus.Bus, eventType string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := b.JetStream().PublishMsg(ctx, &nats.Msg{Subject: b.Subject(eventType), Data: []byte("x")},
		jetstream.WithMsgID(fmt.Sprintf("%s-%d", eventType, time.Now().UnixNano())))
	return err
}

// stored counts the events of a type the stream holds.
func stored(t *testing.T, b *bus.Bus, eventType string) uint64 {
	t.Helper()
	s, err := b.JetStream().Stream(context.Background(), b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(b.Subject(eventType)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[b.Subject(eventType)]
}

// Only dispatch may announce the org tree every service decides its scopes
// by: with any other service's credentials the server refuses the publish,
// and the stream holds nothing.
func TestOnlyDispatchMayPublishTheOrgTree(t *testing.T) {
	t.Parallel()
	env := securedEnv(t)
	for _, svc := range events.Services {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			b := env.ConnectAs(t, svc)
			err := publishAs(b, events.OrgTree)
			if svc == events.Dispatch {
				if err != nil {
					t.Fatalf("dispatch publishing org_tree: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%s published org_tree", svc)
			}
			eventually.True(t, "the server's refusal", func() bool {
				err := b.Conn().LastError()
				return errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), b.Subject(events.OrgTree))
			})
		})
	}
	t.Cleanup(func() {
		b := env.ConnectAs(t, events.Monitoring)
		if n := stored(t, b, events.OrgTree); n != 1 {
			t.Errorf("the stream holds %d org_tree events; want dispatch's one", n)
		}
	})
}

// Each service's user may publish its own event types and no other (the
// publishes run at once: a refused one waits 2 s for an ack in vain).
func TestEachServicePublishesItsOwnEventsOnly(t *testing.T) {
	t.Parallel()
	env := securedEnv(t)
	var wg sync.WaitGroup
	for _, svc := range events.Services {
		b := env.ConnectAs(t, svc)
		for _, typ := range events.Types() {
			wg.Go(func() {
				err := publishAs(b, typ)
				if own := events.MayProduce(svc, typ); own && err != nil {
					t.Errorf("%s may not publish its own %s: %v", svc, typ, err)
				} else if !own && err == nil {
					t.Errorf("%s published %s, which it does not emit", svc, typ)
				}
			})
		}
		wg.Go(func() {
			// Dead letters are anyone's to publish: every consumer gives up on events.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := b.JetStream().Publish(ctx, b.DLQSubject(svc), []byte("dead")); err != nil {
				t.Errorf("%s dead-lettering: %v", svc, err)
			}
		})
	}
	wg.Wait()
}

// A service other than dispatch may not change the events stream: with a
// subject transform it could turn its own events into org_tree events.
func TestOnlyDispatchMayUpdateTheStreams(t *testing.T) {
	t.Parallel()
	env := securedEnv(t)
	intake := env.ConnectAs(t, events.Intake)
	s, err := intake.JetStream().Stream(context.Background(), intake.Stream())
	if err != nil {
		t.Fatal(err)
	}
	evil := s.CachedInfo().Config
	evil.SubjectTransform = &jetstream.SubjectTransformConfig{Source: intake.Subject(events.Reported),
		Destination: intake.Subject(events.OrgTree)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := intake.JetStream().UpdateStream(ctx, evil); err == nil {
		t.Fatal("intake updated the events stream")
	}
	if err := intake.JetStream().DeleteStream(ctx, intake.Stream()); err == nil {
		t.Fatal("intake deleted the events stream")
	}
	if err := s.Purge(ctx); err == nil {
		t.Fatal("intake purged the events stream")
	}
	dispatch := env.ConnectAs(t, events.Dispatch)
	cfg := env.Config
	cfg.Name, cfg.Auth, cfg.MaxAge = "dispatch-again", env.Auth(t, events.Dispatch), 24*time.Hour
	if b, err := bus.Connect(context.Background(), cfg, env.Options...); err != nil {
		t.Fatalf("dispatch updating the stream's MaxAge: %v", err)
	} else {
		b.Close()
	}
	s, err = dispatch.JetStream().Stream(context.Background(), dispatch.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config; got.SubjectTransform != nil || got.MaxAge != 24*time.Hour {
		t.Fatalf("stream config %+v: want dispatch's update only", got)
	}
}

func TestPublishAllowFollowsTheProducers(t *testing.T) {
	t.Parallel()
	for _, svc := range events.Services {
		got := bus.PublishAllow(svc, bus.Config{})
		for _, typ := range events.Types() {
			if slices.Contains(got, "whistle.v1."+typ) != events.MayProduce(svc, typ) {
				t.Errorf("%s: whistle.v1.%s allowed %v, produced %v", svc, typ, !events.MayProduce(svc, typ), events.MayProduce(svc, typ))
			}
		}
		for _, s := range got {
			if s == "$JS.API.>" || s == ">" || s == "whistle.>" || s == "whistle.v1.>" {
				t.Errorf("%s may publish %s: far more than it needs", svc, s)
			}
		}
		if !slices.Contains(got, "whistle.dlq.>") || slices.Contains(got, "$JS.API.STREAM.UPDATE.WHISTLE") != (svc == events.Dispatch) {
			t.Errorf("%s: %v", svc, got)
		}
	}
	if got := bus.PublishAllow(events.Intake, bus.Config{Stream: "S", Prefix: "p"}); !slices.Contains(got, "p.v1.reported") ||
		!slices.Contains(got, "$JS.API.STREAM.INFO.S_DLQ") {
		t.Errorf("PublishAllow with stream S and prefix p: %v", got)
	}
}
