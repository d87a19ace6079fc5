package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/auth"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

func TestTracePrintsTheTicketsTraceAndLink(t *testing.T) {
	t.Setenv("WHISTLE_TRACE_URL", "") // none from the environment the test runs in
	r := startStack(t)
	out := mustCtl(t, r.Addr, "report", "--category", "water_leak", "--grid", "xc-hd-dj-g02",
		"--description", "Water pouring from a pipe", "--name", "Zhang", "--phone", "13800000000", "--key", "trace-1")
	number := regexp.MustCompile(`HH-\d{8}-\d{5}`).FindString(out)
	if number == "" {
		t.Fatalf("report printed no ticket number: %q", out)
	}
	tk, err := r.As(auth.RoleMonitor, r.City).Intake.GetTicket(context.Background(), &whistlev1.GetTicketRequest{Ticket: number})
	if err != nil {
		t.Fatal(err)
	}
	id, traceID := tk.GetTicket().GetId(), tk.GetTicket().GetTraceId()
	// The trace printed is the one the Report call began.
	began := false
	for _, s := range r.Spans.GetSpans() {
		if s.Name == "whistle.v1.IntakeService/Report" && s.SpanContext.TraceID().String() == traceID {
			began = true
		}
	}
	if !began {
		t.Fatalf("trace %s of ticket %s holds no Report span", traceID, number)
	}

	// Without a trace UI: the ticket and its trace id, no link.
	out = mustCtl(t, r.Addr, "trace", number)
	want := "Ticket  " + number + "  (" + id + ")\nTrace   " + traceID + "\n"
	if out != want {
		t.Fatalf("trace %s printed\n%q\nwant\n%q", number, out, want)
	}
	if byID := mustCtl(t, r.Addr, "trace", id); byID != want {
		t.Fatalf("trace <id> printed %q, want %q", byID, want)
	}

	// The link template: the flag, else the environment, else the config file.
	cfg := writeConfig(t, "addr: "+r.Addr+"\nsigning_key: "+r.KeyFile+"\ncity: "+r.City+
		"\ntrace_url: http://tempo.test/trace/{trace_id}?from=config\n")
	traceOut := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"--config", cfg, "trace", number}, args...), &out, &errOut); err != nil {
			t.Fatalf("trace %s %v: %v", number, args, err)
		}
		return out.String()
	}
	link := func(out string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^Link    (\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no link printed:\n%s", out)
		}
		return m[1]
	}
	if got := link(traceOut()); got != "http://tempo.test/trace/"+traceID+"?from=config" {
		t.Errorf("link from the config file: %s", got)
	}
	t.Setenv("WHISTLE_TRACE_URL", "http://jaeger.test:16686/trace/{trace_id}")
	if got := link(traceOut()); got != "http://jaeger.test:16686/trace/"+traceID {
		t.Errorf("WHISTLE_TRACE_URL over the config file: %s", got)
	}
	if got := link(traceOut("--trace-url", "https://ui.test/{trace_id}/{trace_id}")); got != "https://ui.test/"+traceID+"/"+traceID {
		t.Errorf("--trace-url over WHISTLE_TRACE_URL: %s", got)
	}

	var js map[string]string
	if err := json.Unmarshal([]byte(traceOut("-o", "json")), &js); err != nil {
		t.Fatal(err)
	}
	if js["ticketId"] != id || js["number"] != number || js["traceId"] != traceID || js["traceUrl"] != "http://jaeger.test:16686/trace/"+traceID {
		t.Errorf("trace -o json: %v", js)
	}
	t.Setenv("WHISTLE_TRACE_URL", "")
	js = nil
	if err := json.Unmarshal([]byte(mustCtl(t, r.Addr, "trace", number, "-o", "json")), &js); err != nil {
		t.Fatal(err)
	}
	if _, has := js["traceUrl"]; has || js["traceId"] != traceID {
		t.Errorf("trace -o json without a trace UI: %v", js)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"trace", number, "--trace-url", "http://localhost:16686/trace/"}, "--trace-url \"http://localhost:16686/trace/\" has no {trace_id}"},
		{[]string{"trace", "HH-19990101-99999"}, "whistlectl tickets lists them"},
	} {
		if _, err := ctl(t, r.Addr, bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("whistlectl %s: %v, want an error saying %q", strings.Join(bad.args, " "), err, bad.want)
		}
	}
}
