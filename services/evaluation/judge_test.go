package evaluation

import (
	"errors"
	"testing"
)

// Who may give which verdict is decided by who calls, as authenticated,
// never by what the request claims.
func TestMayJudge(t *testing.T) {
	t.Parallel()
	e := Evaluation{ReporterOrgUnitID: "xc-hd-dj-g01", Area: []string{"xc-hd-dj-g01", "xc-hd-dj", "xc-hd", "xc", "hh"},
		DepartmentID: "xc-water", Round: 1, State: Open}
	officer := Caller{OrgUnitID: "xc-hd-dj", Community: true}
	hotline := Caller{OrgUnitID: "hh", Hotline: true}
	resident := Caller{Resident: true}
	tests := []struct {
		name   string
		caller Caller
		src    Source
		by     string
		want   error
	}{
		{"the community's officer", officer, SourceCommunity, "xc-hd-dj", nil},
		{"the community's officer as the reporting grid", Caller{OrgUnitID: "xc-hd-dj-g01", Community: true}, SourceCommunity, "xc-hd-dj-g01", nil},
		{"another community's officer", Caller{OrgUnitID: "xc-hd-wy", Community: true}, SourceCommunity, "xc-hd-wy", ErrNotEvaluator},
		{"the community without the officer's role", Caller{OrgUnitID: "xc-hd-dj", Hotline: true}, SourceCommunity, "xc-hd-dj", ErrNotEvaluator},
		{"the street's officer", Caller{OrgUnitID: "xc-hd", Community: true}, SourceCommunity, "xc-hd", ErrNotEvaluator},
		{"a hotline follow-up", hotline, SourceHotline, "hh", nil},
		{"a follow-up by a community officer", officer, SourceHotline, "xc-hd-dj", ErrNotHotline},
		{"the resident", resident, SourceResident, "", nil},
		{"a resident claiming a follow-up", resident, SourceHotline, "", ErrResidentOnly},
		{"a resident claiming the community", resident, SourceCommunity, "xc-hd-dj", ErrResidentOnly},
		{"credentials claiming the resident", officer, SourceResident, "xc-hd-dj", ErrResidentOnly},
		{"the department judged, as hotline", Caller{OrgUnitID: "xc-water", Hotline: true}, SourceHotline, "xc-water", ErrOwnTicket},
		{"the department judged, as community", Caller{OrgUnitID: "xc-water", Community: true}, SourceCommunity, "xc-water", ErrOwnTicket},
		{"the default, by hand", hotline, SourceDefault, "hh", ErrNotEvaluator},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := e.mayJudge(tt.caller, tt.src, Actor{ID: "x", OrgUnitID: tt.by}); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCodeTriesAndUse(t *testing.T) {
	t.Parallel()
	e := Evaluation{Round: 1}
	for i := range 3 {
		if err := e.tryCode(false, 3); !errors.Is(err, ErrBadCode) || e.CodeFailures != int32(i+1) {
			t.Fatalf("wrong try %d: %v, %d failures", i+1, err, e.CodeFailures)
		}
	}
	if err := e.tryCode(true, 3); !errors.Is(err, ErrCodeLocked) {
		t.Fatalf("a right code once locked: %v", err)
	}
	e = Evaluation{Round: 2, CodeUsedRound: 1}
	if err := e.tryCode(true, 3); err != nil {
		t.Fatal(err)
	}
	if err := e.useCode(); err != nil || e.CodeUsedRound != 2 {
		t.Fatalf("first use in round 2: %v", err)
	}
	if err := e.useCode(); !errors.Is(err, ErrCodeUsed) {
		t.Fatalf("second use in round 2: %v", err)
	}
}
