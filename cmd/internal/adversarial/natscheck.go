package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// attacker is the reporter whose grid the forged org tree puts above the city.
const attacker = "yq-ht-dls-g01"

// runNATS plays check 8: dev's NATS must not take a connection without
// credentials; if it does, an org tree published from it must not change
// what a reporter may list. It runs last: a tree that takes changes who may
// see what for the rest of the run.
func (w *world) runNATS(ctx context.Context, rep *report) {
	if w.dev.ends.NATS == "" {
		rep.skip(gNATS, "NATS: an anonymous connection", "endpoints.json names no NATS URL")
		return
	}
	anon := withoutCredentials(w.dev.ends.NATS)
	nc, err := nats.Connect(anon, nats.Timeout(3*time.Second), nats.NoReconnect(), nats.Name("adversarial-anonymous"))
	if err != nil {
		rep.check(gNATS, "NATS: "+anon+" without credentials", true, "refused", err.Error())
		return
	}
	defer nc.Close()
	rep.check(gNATS, "NATS: "+anon+" without credentials", false, "refused (authorization violation)",
		"connected anonymously to server "+nc.ConnectedServerId())
	w.forgeTree(ctx, rep, nc)
}

// withoutCredentials drops the user and password of each URL in a NATS URL list.
func withoutCredentials(list string) string {
	var out []string
	for _, u := range strings.Split(list, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil {
			p.User = nil
			u = p.String()
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}

// forgeTree publishes, anonymously, the active org tree with the
// attacker's grid above the city, and watches whether the attacker's
// reporter then lists the city's tickets.
func (w *world) forgeTree(ctx context.Context, rep *report, nc *nats.Conn) {
	name := "NATS: an org_tree published anonymously leaves ListTickets of reporter@" + attacker + " as it was"
	lists := func(ctx context.Context) []string {
		resp, err := w.c.Intake.ListTickets(w.as(ctx, "nats", auth.RoleReporter, attacker),
			&whistlev1.ListTicketsRequest{PageSize: 500, IncludeSynthetic: true})
		if err != nil {
			return []string{"(" + err.Error() + ")"}
		}
		return leaks(resp, leakOpts{secrets: w.secrets})
	}
	if before := lists(ctx); len(before) > 0 {
		rep.check(gNATS, name, false, "before the forged tree: none of community A's tickets", "already shows "+strings.Join(before, ", "))
		return
	}
	data, err := proto.Marshal(events.MustNew(events.Meta{OccurredAt: time.Now(), Producer: "dispatch"}, w.forgedTree()))
	if err != nil {
		rep.check(gNATS, name, false, "a forged org_tree event", err.Error())
		return
	}
	js, err := jetstream.New(nc)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = js.Publish(pctx, "whistle.v1.org_tree", data)
		cancel()
	}
	if err != nil {
		rep.check(gNATS, name, true, "the forged tree refused", "publish refused: "+err.Error())
		return
	}
	var seen []string
	err = poll(ctx, "the forged tree to take effect", 5*time.Second, func(ctx context.Context) (bool, string) {
		seen = lists(ctx)
		return len(seen) > 0, "nothing of ours listed"
	})
	rep.check(gNATS, name, err != nil, "no ticket of community A listed within 5 s of the publish",
		fmt.Sprintf("the stream took the forged tree; reporter@%s now lists %s", attacker, strings.Join(seen, ", ")))
}

// forgedTree is the active catalog's tree with the attacker's grid at the
// top and the city under it.
func (w *world) forgedTree() *whistlev1.OrgTree {
	tree := &whistlev1.OrgTree{CatalogVersion: w.catalog.GetVersion()}
	tree.Units = append(tree.Units, &whistlev1.OrgNode{Id: attacker, Level: "city"})
	for _, u := range w.catalog.GetOrgUnits() {
		if u.GetId() == attacker {
			continue
		}
		parent := u.GetParentId()
		if parent == "" {
			parent = attacker
		}
		tree.Units = append(tree.Units, &whistlev1.OrgNode{Id: u.GetId(), ParentId: parent,
			Level: strings.ToLower(strings.TrimPrefix(u.GetLevel().String(), "ORG_LEVEL_"))})
	}
	for _, d := range w.catalog.GetDepartments() {
		tree.Units = append(tree.Units, &whistlev1.OrgNode{Id: d.GetId(), ParentId: d.GetOrgUnitId(), Level: "department"})
	}
	return tree
}
