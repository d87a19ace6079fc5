package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// zoneTimeout bounds reading the city's time zone from the active catalog.
const zoneTimeout = 5 * time.Second

// zone returns the time zone times are printed in: UTC with --utc, else
// the city's (the active catalog's calendar), read once. When it cannot be
// read, UTC, and the note printed says so.
func (g *globals) zone() *time.Location {
	if g.loc != nil {
		return g.loc
	}
	g.loc = time.UTC
	if g.utc {
		return g.loc
	}
	ctx, cancel := context.WithTimeout(context.Background(), zoneTimeout)
	defer cancel()
	c, err := g.clients()
	if err == nil {
		ctx, err = g.actCity(ctx, auth.RoleMonitor)
	}
	var resp *whistlev1.GetCatalogResponse
	if err == nil {
		resp, err = c.Dispatch.GetCatalog(ctx, &whistlev1.GetCatalogRequest{})
	}
	if err == nil {
		g.loc, err = time.LoadLocation(resp.GetCalendar().GetTimeZone())
	}
	if err != nil {
		g.loc, g.zoneErr = time.UTC, err
	}
	return g.loc
}

// when formats a timestamp in the output's time zone, or "-"; the output
// then ends with a note naming the zone (zoneNote).
func (g *globals) when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	g.timesShown = true
	return ts.AsTime().In(g.zone()).Format("2006-01-02 15:04:05")
}

// zoneNote writes, once, which time zone the output's times are in.
func (g *globals) zoneNote(w io.Writer) {
	if g.zoneNoted || g.output == "json" {
		return
	}
	g.zoneNoted = true
	loc := g.zone()
	_, offset := time.Now().In(loc).Zone()
	name := fmt.Sprintf("%s (UTC%s)", loc, time.Now().In(loc).Format("-07:00"))
	switch {
	case g.zoneErr != nil:
		fmt.Fprintf(w, "times in UTC: the city's time zone could not be read (%v)\n", g.zoneErr)
	case g.utc || offset == 0 && loc == time.UTC:
		fmt.Fprintln(w, "times in UTC")
	default:
		fmt.Fprintf(w, "times in %s, the city's time zone; --utc prints UTC\n", name)
	}
}
