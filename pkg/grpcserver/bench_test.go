package grpcserver

import (
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// benchReport is a typical IntakeService.Report request: a resident's report
// from a grid patrol, with an address, coordinates and the reporter's name.
func benchReport() *whistlev1.ReportRequest {
	return &whistlev1.ReportRequest{
		IdempotencyKey: "patrol-xc-hd-dj-g01-20261126-0042",
		Kind:           whistlev1.WhistleKind_WHISTLE_KIND_DAILY,
		Source:         whistlev1.Source_SOURCE_GRID_PATROL,
		Category:       "road_damage",
		Title:          "路面坑洼",
		Description: "东街 12号门前机动车道有一处约半米宽的坑洼，雨后积水，\n" +
			"早晚高峰车辆绕行，已有电动车在此摔倒。\tPlease fill it before the weekend.",
		Location: &whistlev1.Location{GridId: "xc-hd-dj-g01", Address: "东街 12号",
			Coordinates: &whistlev1.Coordinates{Latitude: 40.8414, Longitude: 111.7519}},
		Reporter: &whistlev1.Reporter{OrgUnitId: "xc-hd-dj-g01", Name: "李四", Phone: "+86 138 0000 0000"},
	}
}

// benchResolve is a typical ResponseService.Resolve request: the lead
// department's result with two pieces of evidence.
func benchResolve() *whistlev1.ResolveRequest {
	return &whistlev1.ResolveRequest{
		TicketId: "01937c9e-5a2b-7c3d-8e4f-0a1b2c3d4e5f",
		Actor:    &whistlev1.Actor{Id: "staff-20417", OrgUnitId: "xc-urban", DisplayName: "王五"},
		Result:   "坑洼已用沥青冷补料填平并压实，现场已清理。The hole was filled and compacted; the site is clean.",
		Evidence: []*whistlev1.Attachment{
			{Name: "before.jpg", SizeBytes: 482113, Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				Url: "https://files.city.example/tickets/0042/before.jpg"},
			{Name: "after.jpg", SizeBytes: 501377, Sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
				Url: "https://files.city.example/tickets/0042/after.jpg"},
		},
		RequestId: "resolve-0042-1",
	}
}

// BenchmarkRequestValidation measures the server's one validation layer on a
// decoded request, as the unary interceptors New installs apply it: the
// request checks (decode errors, CheckStrings) and then protovalidate's
// check of the proto annotations. No gRPC round trip is involved.
func BenchmarkRequestValidation(b *testing.B) {
	validator, err := protovalidate.New()
	if err != nil {
		b.Fatal(err)
	}
	codec, err := newRequestCodec()
	if err != nil {
		b.Fatal(err)
	}
	validate := func(m proto.Message) error {
		if err := checkRequest(codec, m); err != nil {
			return err
		}
		return validator.Validate(m)
	}
	for _, bc := range []struct {
		name string
		msg  proto.Message
	}{
		{"IntakeService.Report", benchReport()},
		{"ResponseService.Resolve", benchResolve()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if err := validate(bc.msg); err != nil { // also compiles the message's rules
				b.Fatalf("the typical request is refused: %v", err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := validate(bc.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
