package webhook_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/whistle-civic/whistle/pkg/webhook"
)

func sampleEvent() webhook.Event {
	return webhook.Event{
		ID:      "0193a1b2-0000-7000-8000-000000000001",
		Source:  "/whistle/intake",
		Type:    "org.whistle.ticket.resolved",
		Subject: "HH-20261126-00042",
		Time:    time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600)),
		Data:    json.RawMessage(`{"number":"HH-20261126-00042","status":"resolved"}`),
		Extensions: map[string]string{
			"traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"whistleticket": "0193a1b2-0000-7000-8000-000000000001",
		},
	}
}

func TestMarshalJSONWritesAStructuredCloudEvent(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion":     "1.0",
		"id":              "0193a1b2-0000-7000-8000-000000000001",
		"source":          "/whistle/intake",
		"type":            "org.whistle.ticket.resolved",
		"subject":         "HH-20261126-00042",
		"time":            "2026-11-26T01:30:00.123456789Z",
		"datacontenttype": "application/json",
		"data":            map[string]any{"number": "HH-20261126-00042", "status": "resolved"},
		"traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"whistleticket":   "0193a1b2-0000-7000-8000-000000000001",
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %s\nwant %v", b, want)
	}
}

func TestMarshalJSONLeavesOutWhatIsOptional(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(webhook.Event{ID: "1", Source: "/s", Type: "t"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"datacontenttype":"application/json","id":"1","source":"/s","specversion":"1.0","type":"t"}`
	if string(b) != want {
		t.Fatalf("got %s; want %s", b, want)
	}
}

func TestEventsRoundTripThroughEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, ev := range []webhook.Event{
		sampleEvent(),
		{ID: "1", Source: "/s", Type: "t", DataContentType: "application/json"},
		{ID: "2", Source: "/s", Type: "t", DataContentType: "application/json", Data: json.RawMessage(`[1,2]`)},
	} {
		t.Run(ev.ID, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var got webhook.Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if ev.DataContentType == "" {
				ev.DataContentType = "application/json"
			}
			if !got.Time.Equal(ev.Time) {
				t.Fatalf("time %s; want %s", got.Time, ev.Time)
			}
			got.Time, ev.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, ev) {
				t.Fatalf("got %+v\nwant %+v", got, ev)
			}
		})
	}
}

func TestInvalidEventsAreRefused(t *testing.T) {
	t.Parallel()
	ext := func(name string) webhook.Event {
		ev := sampleEvent()
		ev.Extensions = map[string]string{name: "x"}
		return ev
	}
	for _, tc := range []struct {
		name string
		ev   webhook.Event
	}{
		{"no id", webhook.Event{Source: "/s", Type: "t"}},
		{"no source", webhook.Event{ID: "1", Type: "t"}},
		{"no type", webhook.Event{ID: "1", Source: "/s"}},
		{"data not JSON", webhook.Event{ID: "1", Source: "/s", Type: "t", Data: json.RawMessage(`{`)}},
		{"upper-case extension", ext("traceParent")},
		{"extension with a dash", ext("whistle-ticket")},
		{"extension too long", ext("abcdefghijklmnopqrstu")},
		{"empty extension name", ext("")},
		{"extension named as an attribute", ext("dataschema")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := json.Marshal(tc.ev); !errors.Is(err, webhook.ErrEvent) {
				t.Fatalf("Marshal = %v; want ErrEvent", err)
			}
		})
	}
}

func TestUnmarshalJSONRefusesWhatIsNotAnEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, json string }{
		{"not an object", `[1]`},
		{"another specversion", `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`},
		{"no specversion", `{"id":"1","source":"/s","type":"t"}`},
		{"no id", `{"specversion":"1.0","source":"/s","type":"t"}`},
		{"a bad time", `{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"yesterday"}`},
		{"a number extension", `{"specversion":"1.0","id":"1","source":"/s","type":"t","n":1}`},
		{"data_base64", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AA=="}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ev webhook.Event
			if err := json.Unmarshal([]byte(tc.json), &ev); !errors.Is(err, webhook.ErrEvent) {
				t.Fatalf("Unmarshal = %v; want ErrEvent", err)
			}
		})
	}
}
