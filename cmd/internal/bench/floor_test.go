package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/whistle-civic/whistle/pkg/bus"
	"github.com/whistle-civic/whistle/pkg/natsserver"
	"github.com/whistle-civic/whistle/pkg/natstest"
	"github.com/whistle-civic/whistle/pkg/pgtest"
)

// TestFloorDoesExactlyItsWorkPerTicket runs the floor on a real PostgreSQL
// and an in-process JetStream that, as in `whistle dev`, admits the floor
// only as its own user with FloorPublishAllow; keeps its table and stream,
// and counts: every done ticket made exactly its commits, publishes and
// acked consumes.
func TestFloorDoesExactlyItsWorkPerTicket(t *testing.T) {
	t.Parallel()
	env, asFloor := floorEnv(t)
	d := &Deployment{DatabaseURL: pgtest.NewDatabase(t), NATSOptions: asFloor}
	work := FloorWork{Commits: 7, Publishes: 3, Consumes: 5}
	rep, err := RunFloor(context.Background(), d, Options{Rate: 20, Duration: time.Second, Drain: 30 * time.Second, RunID: "ftest"},
		work, FloorOptions{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Arrivals == 0 || rep.Done != rep.Arrivals || rep.Stuck != 0 || len(rep.Errors) > 0 {
		t.Fatalf("%d arrivals, %d done, %d stuck, errors %v: want every ticket done", rep.Arrivals, rep.Done, rep.Stuck, rep.Errors)
	}
	if s, ok := findStage(rep.Stages, FloorStageTicket); !ok || s.Count != rep.Done || !(s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.Max) {
		t.Fatalf("ticket stage %+v, want one ordered sample per done ticket", s)
	}
	checkCommits(t, d.DatabaseURL, rep.Done, work.Commits)
	js := jetStream(t, env, asFloor)
	checkPublishes(t, js, rep.Done, work.Publishes)
	checkAcks(t, js, rep.Done, work.Consumes)
}

// checkCommits counts the rows (one per commit) of each ticket.
func checkCommits(t *testing.T, url string, tickets, perTicket int) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT ticket, count(*), count(*) FILTER (WHERE consumer <> '') FROM `+FloorSchema+`.commits GROUP BY ticket`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ticket string
		var commits, consumes int
		if err := rows.Scan(&ticket, &commits, &consumes); err != nil {
			t.Fatal(err)
		}
		n++
		if commits != perTicket || consumes != 5 || !strings.HasPrefix(ticket, "ftest-") {
			t.Errorf("ticket %s: %d commits (%d by consumers), want %d (5)", ticket, commits, consumes, perTicket)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != tickets {
		t.Fatalf("%d tickets committed, want %d", n, tickets)
	}
}

// floorEnv is a JetStream that admits the services' users and the floor's,
// and the options that log in as the floor.
func floorEnv(t *testing.T) (*natstest.Env, []nats.Option) {
	t.Helper()
	u, err := natsserver.NewUser(FloorUser, FloorPublishAllow(""), []string{bus.InboxSubjects})
	if err != nil {
		t.Fatal(err)
	}
	env := natstest.NewSecured(t, u)
	if env.Server == nil { // WHISTLE_TEST_NATS_URL: every floor's stream is BENCHFLOOR, one test at a time
		sharedFloorStream.Lock()
		t.Cleanup(sharedFloorStream.Unlock)
	}
	return env, append([]nats.Option{nats.UserInfo(u.Name, u.Password)}, env.Options...)
}

// sharedFloorStream is held by a floor test on a shared NATS server.
var sharedFloorStream sync.Mutex

func jetStream(t *testing.T, env *natstest.Env, opts []nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(env.Config.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// checkPublishes counts the floor stream's messages.
func checkPublishes(t *testing.T, js jetstream.JetStream, tickets, perTicket int) {
	t.Helper()
	s, err := js.Stream(context.Background(), FloorStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != uint64(tickets*perTicket) {
		t.Fatalf("%d messages in %s, want %d tickets × %d", got, FloorStream, tickets, perTicket)
	}
}

// checkAcks waits until every consumer's deliveries are acknowledged, then
// counts them: each message once per consume, none redelivered.
func checkAcks(t *testing.T, js jetstream.JetStream, tickets, perTicket int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		acked, pending, redelivered, err := ackCounts(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			if acked != tickets*perTicket || redelivered != 0 {
				t.Fatalf("%d acks (%d redelivered), want %d tickets × %d", acked, redelivered, tickets, perTicket)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still unacknowledged after 30 s", pending)
		}
		<-tick.C
	}
}

func ackCounts(ctx context.Context, js jetstream.JetStream) (acked, pending, redelivered int, err error) {
	s, err := js.Stream(ctx, FloorStream)
	if err != nil {
		return 0, 0, 0, err
	}
	consumers := 0
	for info := range s.ListConsumers(ctx).Info() {
		consumers++
		acked += int(info.AckFloor.Consumer)
		pending += info.NumAckPending + int(info.NumPending)
		redelivered += info.NumRedelivered
	}
	if consumers == 0 {
		return 0, 0, 0, fmt.Errorf("no consumers on %s", FloorStream)
	}
	return acked, pending, redelivered, nil
}

// The floor's user publishes nothing of Whistle's: no event, no call on the
// events stream but a look at its settings.
func TestFloorUserMayNotSpeakForAService(t *testing.T) {
	t.Parallel()
	for _, s := range FloorPublishAllow("WHISTLE") {
		if strings.HasPrefix(s, "whistle.") || s == "$JS.API.>" || s == ">" ||
			(strings.Contains(s, "WHISTLE") && s != "$JS.API.STREAM.INFO.WHISTLE") {
			t.Errorf("the floor may publish %s", s)
		}
	}
}
