package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/events"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// TestDeadLettersCommands poisons dispatch's consumer with undecodable
// "reported" events published straight onto the stack's JetStream (with
// intake's credentials: no other user may publish them), then lists, pages,
// discards and replays the dead letters through whistlectl.
func TestDeadLettersCommands(t *testing.T) {
	r := startStack(t)
	ctx := context.Background()
	b := r.NATS.ConnectAs(t, events.Intake)
	for i := range 2 {
		if _, err := b.JetStream().Publish(ctx, b.Subject(events.Reported), []byte("not an event"),
			jetstream.WithMsgID(fmt.Sprintf("garbage-%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	// dispatch's consumer gives up on them at once (other consumers of "reported" do too).
	row := `(?m)^(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+dispatch\s+reported\s+-\s+1\s+poison event: decode event`
	out := eventuallyMatch(t, r.Addr, row+`(?s:.*)`+row, "dead-letters", "list", "--consumer", "dispatch")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || lines[3]+"\n" != zoneNote || !regexp.MustCompile(`^SEQ\s+AT\s+CONSUMER\s+EVENT\s+TICKET\s+DELIVERIES\s+ERROR$`).MatchString(lines[0]) {
		t.Fatalf("dead-letters list --consumer dispatch:\n%s", out)
	}
	var resp whistlev1.ListDeadLettersResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "dead-letters", "list", "--consumer", "dispatch", "-o", "json"), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.GetDeadLetters()) != 2 || resp.GetNextAfterSeq() != 0 {
		t.Fatalf("dead-letters list -o json: %v", &resp)
	}
	first, second := resp.GetDeadLetters()[0], resp.GetDeadLetters()[1]
	if first.GetSubject() != b.Subject(events.Reported) || first.GetEventId() != "" || first.GetDeliveries() != 1 {
		t.Fatalf("dead letter %v", first)
	}
	s1, s2 := strconv.FormatUint(first.GetSeq(), 10), strconv.FormatUint(second.GetSeq(), 10)

	// Everyone's dead letters, more than dispatch's; and one page at a time.
	if all := mustCtl(t, r.Addr, "dead-letters", "list"); strings.Count(all, "poison event") <= 2 {
		t.Errorf("every consumer's dead letters: want more than dispatch's two:\n%s", all)
	}
	out = mustCtl(t, r.Addr, "dead-letters", "list", "--consumer", "dispatch", "--page-size", "1")
	if !regexp.MustCompile(`(?m)^`+s1+`\s`).MatchString(out) ||
		!strings.Contains(out, "more: whistlectl dead-letters list --after "+s1+" (with the same filters)") {
		t.Fatalf("first page:\n%s", out)
	}
	out = mustCtl(t, r.Addr, "dead-letters", "list", "--consumer", "dispatch", "--page-size", "1", "--after", s1)
	if !regexp.MustCompile(`(?m)^`+s2+`\s`).MatchString(out) || strings.Contains(out, "more:") {
		t.Fatalf("second page:\n%s", out)
	}

	// Discard the first.
	out = mustCtl(t, r.Addr, "dead-letters", "discard", s1, "--reason", "garbage published by a test")
	if !strings.Contains(out, "discarded dead letter "+s1+" (reported event - of dispatch)") {
		t.Fatalf("discard printed %q", out)
	}
	out = mustCtl(t, r.Addr, "dead-letters", "list", "--consumer", "dispatch")
	if regexp.MustCompile(`(?m)^`+s1+`\s`).MatchString(out) || !regexp.MustCompile(`(?m)^`+s2+`\s`).MatchString(out) {
		t.Fatalf("after discarding %s:\n%s", s1, out)
	}

	// Replay the second: published again on whistle.v1.reported, dispatch gives up on it again, under a new SEQ.
	var replayed whistlev1.ReplayDeadLetterResponse
	if err := unmarshalJSON(mustCtl(t, r.Addr, "dead-letters", "replay", s2, "-o", "json"), &replayed); err != nil {
		t.Fatal(err)
	}
	if replayed.GetDeadLetter().GetSeq() != second.GetSeq() || replayed.GetDeadLetter().GetConsumer() != "dispatch" {
		t.Fatalf("replay -o json: %v", &replayed)
	}
	out = eventuallyMatch(t, r.Addr, row, "dead-letters", "list", "--consumer", "dispatch", "--after", s2)
	if strings.Count(out, "dispatch") != 1 {
		t.Fatalf("after replaying %s:\n%s", s2, out)
	}
	if out := mustCtl(t, r.Addr, "dead-letters", "list", "--consumer", "dispatch"); regexp.MustCompile(`(?m)^` + s2 + `\s`).MatchString(out) {
		t.Fatalf("the replayed dead letter %s is still listed:\n%s", s2, out)
	}
	_, err := ctl(t, r.Addr, "dead-letters", "replay", s2)
	wantErr(t, "replay twice", err, "NotFound", "no such dead letter", "whistlectl dead-letters list")

	// Each replay and discard that happened left one audit row, the replay in the schema of intake, which
	// published it again; the one that failed none.
	for action, service := range map[string]string{"dead_letter.discard": "intake", "dead_letter.replay": "intake"} {
		out := strings.TrimSpace(mustCtl(t, r.Addr, "audit", "--action", action))
		if lines := strings.Split(out, "\n"); len(lines) != 3 || lines[2]+"\n" != zoneNote || !regexp.MustCompile(`\s`+service+`\s.*\s`+action+`\s`).MatchString(lines[1]) {
			t.Errorf("whistlectl audit --action %s:\n%s\nwant one row, in %s", action, out, service)
		}
	}

	// Who may: admins do everything, monitors only list, the rest nothing.
	monitor, reporter := r.Token(auth.RoleMonitor, r.City), r.Token(auth.RoleReporter, "xc-hd-dj-g01")
	if out, err := ctl(t, r.Addr, "dead-letters", "list", "--token", monitor); err != nil || !strings.Contains(out, "dispatch") {
		t.Fatalf("list as the city's monitor: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"list", "--token", reporter},
		{"replay", s2, "--token", monitor},
		{"discard", s2, "--reason", "x", "--token", monitor},
		{"discard", s2, "--reason", "x", "--token", reporter},
	} {
		_, err := ctl(t, r.Addr, append([]string{"dead-letters"}, args...)...)
		wantErr(t, "dead-letters "+strings.Join(args, " "), err, "PermissionDenied", "not allowed")
	}
	// An administrator acts in their own org unit's name only.
	_, err = r.As(auth.RoleAdmin, "xc").DeadLetters.ReplayDeadLetter(ctx, &whistlev1.ReplayDeadLetterRequest{Seq: second.GetSeq(),
		Actor: &whistlev1.Actor{Id: "a", OrgUnitId: r.City}})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), "acts for another org unit") {
		t.Fatalf("replay naming another org unit as actor: %v", err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "abc"}, `"abc" is not a dead letter's SEQ`},
		{[]string{"replay"}, "give the SEQ of the dead letter to replay"},
		{[]string{"discard", s2}, `required flag(s) "reason" not set`},
		{[]string{"list", "--page-size", "501"}, "--page-size 501: choose 1 to 500"},
		{[]string{"list", "--consumer", "dispatch.>"}, "refused:"},
	} {
		if _, err := ctl(t, r.Addr, append([]string{"dead-letters"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("whistlectl dead-letters %v: %v, want an error mentioning %q", tt.args, err, tt.want)
		}
	}
}
