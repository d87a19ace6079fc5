package stack_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/events"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/natstest"

	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// TestNoServiceButDispatchCanRewriteTheOrgTree: on the stack as `whistle
// dev` runs it, intake's NATS credentials cannot publish an org tree (one
// that would put the whole city under a unit of the publisher's choosing):
// the server refuses it, nothing lands in the stream, and no service's tree
// changes. Dispatch's credentials may publish one.
func TestNoServiceButDispatchCanRewriteTheOrgTree(t *testing.T) {
	t.Parallel()
	// Always the in-process server with users: the external test server has none.
	r := stacktest.StartWith(t, stacktest.Options{NATS: natstest.NewWithUsers(t)})
	ctx := context.Background()
	evil := events.MustNew(events.Meta{OccurredAt: time.Now(), Producer: "dispatch",
		Actor: &whistlev1.Actor{Id: "service:dispatch", OrgUnitId: "evil"}},
		&whistlev1.OrgTree{CatalogVersion: "evil-1", Units: []*whistlev1.OrgNode{{Id: "evil", Level: "city"},
			{Id: r.City, ParentId: "evil", Level: "district"}}})
	data, err := proto.Marshal(evil)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{events.Intake, events.Response, events.Evaluation, events.Monitoring} {
		b := r.NATS.ConnectAs(t, svc)
		before := orgTreesStored(t, b)
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := b.JetStream().PublishMsg(pctx, &nats.Msg{Subject: b.Subject(events.OrgTree), Data: data},
			jetstream.WithMsgID(svc+"-"+evil.GetEventId()))
		cancel()
		if err == nil {
			t.Fatalf("%s's credentials published an org tree", svc)
		}
		if after := orgTreesStored(t, b); after != before {
			t.Fatalf("the stream holds %d org_tree events after %s's attempt, %d before", after, svc, before)
		}
	}
	for _, schema := range []string{events.Intake, events.Monitoring} {
		if n := unitsNamed(t, r, schema, "evil"); n != 0 {
			t.Fatalf("%s's org tree holds the unit of the forged tree", schema)
		}
	}
	// Dispatch's credentials may: the same tree reaches intake's.
	dispatch := r.NATS.ConnectAs(t, events.Dispatch)
	before := orgTreesStored(t, dispatch)
	if _, err := dispatch.JetStream().PublishMsg(ctx, &nats.Msg{Subject: dispatch.Subject(events.OrgTree), Data: data},
		jetstream.WithMsgID(evil.GetEventId())); err != nil {
		t.Fatalf("dispatch publishing the org tree: %v", err)
	}
	if after := orgTreesStored(t, dispatch); after != before+1 {
		t.Fatalf("the stream holds %d org_tree events after dispatch's, %d before", after, before)
	}
	eventually.True(t, "dispatch's tree at intake", func() bool { return unitsNamed(t, r, events.Intake, "evil") == 1 })
}

// orgTreesStored counts the org_tree events of the stream.
func orgTreesStored(t *testing.T, b *bus.Bus) uint64 {
	t.Helper()
	s, err := b.JetStream().Stream(context.Background(), b.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(b.Subject(events.OrgTree)))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[b.Subject(events.OrgTree)]
}

// unitsNamed counts a service's org units of an id.
func unitsNamed(t *testing.T, r *stacktest.Running, schema, id string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), r.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+schema+".org_units WHERE id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
