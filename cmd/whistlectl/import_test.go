package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// TestImportTheSampleTwiceAndABadFile imports the shipped sample file
// through whistlectl, then again (nothing changes), then a file with a line
// that is no JSON, one outside the API's bounds and one whose grid the org
// tree does not hold: each is named and nothing is imported, unless
// --skip-bad imports the good line; progress goes to stderr.
func TestImportTheSampleTwiceAndABadFile(t *testing.T) {
	r := startStack(t)
	defer func(every time.Duration) { importProgressEvery = every }(importProgressEvery)
	importProgressEvery = time.Millisecond
	sample := filepath.Join("..", "..", "deploy", "seed", "import-sample.jsonl")
	if out := mustCtl(t, r.Addr, "import", sample); out != "imported 4 tickets, 0 imported already, 0 bad lines skipped\n" {
		t.Fatalf("import of the sample:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "import", sample); out != "imported 0 tickets, 4 imported already, 0 bad lines skipped\n" {
		t.Fatalf("the sample again:\n%s", out)
	}
	eventually(t, r.Addr, "CLOSED", "show", "HH-20251103-00001")

	lines, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(lines), "\n", 2)[0]
	bad := strings.Join([]string{
		strings.ReplaceAll(first, "12345-2025-000101", "new-1"),
		`{"externalId": "new-2", "kind": `,
		strings.ReplaceAll(strings.ReplaceAll(first, "12345-2025-000101", "new-3"), `"kind":"WHISTLE_KIND_DAILY"`, `"kind":"WHISTLE_KIND_UNSPECIFIED"`),
		strings.ReplaceAll(strings.ReplaceAll(first, "12345-2025-000101", "new-4"), "xc-hd-dj-g01", "xc-nowhere"),
	}, "\n")
	file := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := ctlAll(t, r.Addr, "import", file)
	if err == nil || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("a bad file: %v\n%s", err, out)
	}
	for _, want := range []string{"line 2: json:", "line 3: kind:", "line 4: reporter.org_unit_id: \"xc-nowhere\""} {
		if !strings.Contains(out, want) {
			t.Errorf("the bad file's report lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "import: ") || !strings.Contains(errOut, "tickets/s") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	if out := mustCtl(t, r.Addr, "import", file, "--dry-run"); !strings.Contains(out, "1 would be imported") {
		t.Fatalf("dry run:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "import", file, "--skip-bad"); !strings.HasSuffix(out, "imported 1 tickets, 0 imported already, 3 bad lines skipped\n") {
		t.Fatalf("--skip-bad:\n%s", out)
	}
}

// TestTheImportSchemaNamesEveryField keeps docs/import.schema.json and the
// protos together: every field of an imported ticket and of its steps is in
// the schema, by its JSON name, and nothing else is.
func TestTheImportSchemaNamesEveryField(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "import.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("docs/import.schema.json: %v", err)
	}
	check := func(name string, md protoreflect.MessageDescriptor, props map[string]json.RawMessage) {
		fields := md.Fields()
		for i := range fields.Len() {
			if _, ok := props[fields.Get(i).JSONName()]; !ok {
				t.Errorf("%s: the schema lacks %s", name, fields.Get(i).JSONName())
			}
		}
		if len(props) != fields.Len() {
			t.Errorf("%s: the schema has %d properties, the proto %d fields", name, len(props), fields.Len())
		}
	}
	check("ImportedTicket", (&whistlev1.ImportedTicket{}).ProtoReflect().Descriptor(), schema.Properties)
	check("ImportedStep", (&whistlev1.ImportedStep{}).ProtoReflect().Descriptor(), schema.Defs["step"].Properties)
}
