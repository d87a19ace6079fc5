package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/deadletter"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/natsserver"
)

// Check 9 replays one dead letter and discards another, as admin, and each
// must leave exactly one audit row by its caller. A dead letter takes a
// message no service would publish, which dev's NATS (a user per service,
// passwords made at each start) rightly refuses to anyone else: check 8
// proves it. So the dead letters are made on a second, short-lived
// `whistle dev` (its own data folder and database) whose NATS is a server
// the suite runs in its own process, without users: the suite publishes a
// message that is no event on it, and each consumer of the subject gives
// that up at once. The main dev keeps its own NATS.

// garbageSubject is where the message that is no event goes.
const garbageSubject = "whistle.v1.reported"

// deadLetterWait bounds the wait for the consumers to give the message up.
const deadLetterWait = 30 * time.Second

// deadLetterDir is the folder of the second dev and the suite's NATS, in the work folder.
const deadLetterDir = "deadletters"

// actOnDeadLetters runs the suite's NATS and the second dev on it, makes the
// dead letters there, replays one and discards another, and stops both.
func (w *world) actOnDeadLetters(ctx context.Context, rep *report) {
	const setUp = "dead letters: the suite's own NATS and a second whistle dev on it"
	const running = "both running"
	srv, err := natsserver.Start(natsserver.Options{StoreDir: filepath.Join(w.launch.work, deadLetterDir, "nats"), Listen: true})
	if err != nil {
		rep.check(gAudit, setUp, false, running, err.Error()+" (the suite runs it in its own process: check the work folder's disk)")
		return
	}
	defer func() {
		srv.Shutdown()
		progress(w.out, "dead letters: the suite's NATS stopped")
	}()
	progress(w.out, "dead letters: the suite's own NATS on %s (JetStream, admits anyone)", srv.URL())
	d, err := w.launch.start(ctx, "whistle dev for dead letters", deadLetterDir, "WHISTLE_NATS_URL="+srv.URL())
	defer d.stop(w.out)
	if err != nil {
		rep.check(gAudit, setUp, false, running, err.Error())
		return
	}
	dw, err := newWorld(d, w.out)
	if err != nil {
		rep.check(gAudit, setUp, false, running, err.Error())
		return
	}
	defer dw.close()
	if err := publishGarbage(ctx, srv.URL()); err != nil {
		rep.check(gAudit, "dead letters: publish a message that is no event on "+garbageSubject, false, "published", err.Error())
		return
	}
	progress(w.out, "dead letters: published a message that is no event on %s; waiting for its dead letters", garbageSubject)
	dw.settleDeadLetters(ctx, rep)
}

// settleDeadLetters replays a dead letter of the garbage and discards
// another, checking the audit row of each.
func (w *world) settleDeadLetters(ctx context.Context, rep *report) {
	actor := &whistlev1.Actor{Id: "adv-admin", OrgUnitId: city}
	replay, ok := w.awaitDeadLetter(ctx, rep, 0)
	if !ok {
		return
	}
	w.settle(ctx, rep, "ReplayDeadLetter", deadletter.ActionReplay, replay, func(ctx context.Context) (proto.Message, error) {
		return w.c.DeadLetters.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: replay, Actor: actor})
	})
	discard, ok := w.awaitDeadLetter(ctx, rep, replay)
	if !ok {
		return
	}
	w.settle(ctx, rep, "DiscardDeadLetter", deadletter.ActionDiscard, discard, func(ctx context.Context) (proto.Message, error) {
		return w.c.DeadLetters.DiscardDeadLetter(ctx, &whistlev1.DiscardDeadLetterRequest{Seq: discard, Reason: "adversarial garbage",
			Actor: actor})
	})
}

// publishGarbage puts a message that is no event on garbageSubject, through
// the NATS at url, without credentials.
func publishGarbage(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.NoReconnect(), nats.Name("adversarial-deadletters"))
	if err != nil {
		return fmt.Errorf("cannot connect to the suite's NATS at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.Publish(pctx, garbageSubject, []byte("adversarial: this is not an event")); err != nil {
		return fmt.Errorf("cannot publish to %s (dev creates the WHISTLE stream at start: see its log): %w", garbageSubject, err)
	}
	return nil
}

// awaitDeadLetter polls, as admin, until the dead letters hold one from
// garbageSubject other than skip, and returns its sequence. A timeout is a
// failed row, with the last list seen.
func (w *world) awaitDeadLetter(ctx context.Context, rep *report, skip uint64) (uint64, bool) {
	name := "dead letters: the message on " + garbageSubject + " is dead-lettered"
	if skip != 0 {
		name = fmt.Sprintf("dead letters: another of the message on %s besides seq %d", garbageSubject, skip)
	}
	start := time.Now()
	var got *whistlev1.DeadLetter
	err := poll(ctx, "a dead letter of the message on "+garbageSubject, deadLetterWait, func(ctx context.Context) (bool, string) {
		resp, err := w.c.DeadLetters.ListDeadLetters(w.admin(ctx), &whistlev1.ListDeadLettersRequest{PageSize: 500})
		if err != nil {
			return false, "ListDeadLetters as admin: " + observe(resp, err).String()
		}
		var held []string
		for _, d := range resp.GetDeadLetters() {
			if d.GetSeq() != skip && d.GetSubject() == garbageSubject {
				got = d
				return true, ""
			}
			held = append(held, fmt.Sprintf("seq %d of %s", d.GetSeq(), d.GetSubject()))
		}
		return false, fmt.Sprintf("%d dead letters [%s]", len(held), strings.Join(held, ", "))
	})
	if err != nil {
		rep.check(gAudit, name, false, fmt.Sprintf("listed by ListDeadLetters as admin within %s", deadLetterWait),
			fmt.Sprintf("%v (its log: %s)", err, w.dev.log))
		return 0, false
	}
	rep.check(gAudit, name, true, "listed by ListDeadLetters as admin", fmt.Sprintf("seq %d, consumer %s", got.GetSeq(), got.GetConsumer()))
	progress(w.out, "dead letters: seq %d, given up by consumer %s, listed after %s", got.GetSeq(), got.GetConsumer(),
		time.Since(start).Round(10*time.Millisecond))
	return got.GetSeq(), true
}

// settle makes call (DeadLetterService.method on dead letter seq) as admin
// and checks that it answered OK and left exactly one audit row by its
// caller during the call, with action.
func (w *world) settle(ctx context.Context, rep *report, method, action string, seq uint64,
	call func(ctx context.Context) (proto.Message, error)) {
	name := fmt.Sprintf("DeadLetterService.%s seq %d as admin", method, seq)
	// A subject of its own per method, so that the row of the call before
	// (the replay's, a few milliseconds earlier) is never taken for this one's.
	admin := w.as(ctx, "deadletters-"+strings.ToLower(method), auth.RoleAdmin, city)
	subject, _ := admin.Value(subjectKey{}).(string)
	start := time.Now()
	cctx, cancel := context.WithTimeout(admin, callTimeout)
	resp, err := call(cctx)
	cancel()
	end := time.Now()
	if !rep.check(gAudit, name, err == nil, "OK", observe(resp, err).String()) {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	list, err := w.c.Audit.ListAudit(w.admin(lctx), &whistlev1.ListAuditRequest{Subject: subject, PageSize: 50,
		After: timestamppb.New(start.Add(-auditSlack)), Before: timestamppb.New(end.Add(auditSlack))})
	var rows []string
	for _, e := range list.GetEntries() {
		rows = append(rows, fmt.Sprintf("%s:%s (%s)", e.GetService(), e.GetAction(), e.GetDetail()))
	}
	entries := list.GetEntries()
	rep.check(gAudit, name+": its audit row", err == nil && len(entries) == 1 && entries[0].GetAction() == action,
		fmt.Sprintf("exactly one row by %s during the call: %s", subject, action),
		fmt.Sprintf("%s, %d rows [%s]", observe(list, err).code, len(rows), strings.Join(rows, "; ")))
}
