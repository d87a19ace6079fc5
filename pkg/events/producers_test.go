package events_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/events"
)

// unproduced are the event types no service emits yet.
var unproduced = []string{}

func TestEveryTypeHasItsProducers(t *testing.T) {
	t.Parallel()
	for _, typ := range events.Types() {
		got := events.Producers(typ)
		if slices.Contains(unproduced, typ) {
			if len(got) != 0 {
				t.Errorf("%s: producers %v, but it is listed as produced by nobody", typ, got)
			}
			continue
		}
		if len(got) == 0 {
			t.Errorf("%s has no producer: add it to the table in producers.go (or to unproduced here)", typ)
		}
		for _, svc := range got {
			if !slices.Contains(events.Services, svc) {
				t.Errorf("%s: producer %q is not a service", typ, svc)
			}
			if !events.MayProduce(svc, typ) || !slices.Contains(events.Produces(svc), typ) {
				t.Errorf("%s: Producers, Produces and MayProduce disagree about %s", typ, svc)
			}
		}
	}
	if got := events.Producers(events.OrgTree); !slices.Equal(got, []string{events.Dispatch}) {
		t.Errorf("org_tree producers %v: only dispatch may announce the org tree", got)
	}
	if events.MayProduce(events.Intake, "no_such_type") || len(events.Produces("nobody")) != 0 {
		t.Error("an unknown type or service must produce nothing")
	}
}

// TestTheDocsNameTheProducers keeps the "emits" column of
// docs/architecture.md ("Who owns what") equal to the table NATS
// permissions are derived from.
func TestTheDocsNameTheProducers(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	paren := regexp.MustCompile(`\s*\([^)]*\)`)
	for _, svc := range events.Services {
		var row string
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "| "+svc+" ") {
				row = line
				break
			}
		}
		cells := strings.Split(row, "|")
		if len(cells) < 5 {
			t.Fatalf("docs/architecture.md has no row for %s in \"Who owns what\"", svc)
		}
		var doc []string
		for typ := range strings.SplitSeq(paren.ReplaceAllString(cells[3], ""), ",") {
			doc = append(doc, strings.TrimSpace(typ))
		}
		slices.Sort(doc)
		if want := events.Produces(svc); !slices.Equal(doc, want) {
			t.Errorf("docs/architecture.md says %s emits %v; pkg/events says %v", svc, doc, want)
		}
	}
}
