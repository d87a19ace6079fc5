package intake

import (
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
	"github.com/whistle-civic/whistle/pkg/timeconv"
)

func (g *grpcServer) ImportTickets(stream grpc.ClientStreamingServer[whistlev1.ImportTicketsRequest, whistlev1.ImportTicketsResponse]) error {
	ctx := stream.Context()
	if err := policy.Authorize(ctx, actImport, policy.Resource{}); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := ImportOptions{SkipBad: first.GetSkipBad(), DryRun: first.GetDryRun()}
	var place int64
	pending := first
	next := func() ([]ImportedTicket, error) {
		msg := pending
		pending = nil
		if msg == nil {
			if msg, err = stream.Recv(); err != nil {
				return nil, err // io.EOF ends the import
			}
		}
		out := make([]ImportedTicket, len(msg.GetTickets()))
		for i, t := range msg.GetTickets() {
			place++
			out[i] = fromProtoImported(t, place)
		}
		return out, nil
	}
	res, err := g.svc.ImportTickets(ctx, opts, next)
	if err != nil {
		return err
	}
	resp := toProtoImportResult(res)
	if res.Bad > 0 && !opts.SkipBad && !opts.DryRun {
		return badImport(res)
	}
	return stream.SendAndClose(resp)
}

// badImport refuses an import with problems: INVALID_ARGUMENT with a
// google.rpc.BadRequest naming each problem's line and field.
func badImport(res ImportResult) error {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("%d of the tickets cannot be imported (the first: line %d, %s: %s); %s",
		res.Bad, res.Problems[0].Line, res.Problems[0].Field, res.Problems[0].Reason, ErrBadImport.Error()))
	br := &errdetails.BadRequest{}
	for _, p := range res.Problems {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: fmt.Sprintf("line %d (%s): %s", p.Line, p.ExternalID, p.Field), Description: p.Reason})
	}
	if detailed, err := st.WithDetails(br); err == nil {
		st = detailed
	}
	return st.Err()
}

func fromProtoImported(t *whistlev1.ImportedTicket, place int64) ImportedTicket {
	line := t.GetLine()
	if line == 0 {
		line = place
	}
	content, _ := proto.MarshalOptions{Deterministic: true}.Marshal(withoutLine(t))
	it := ImportedTicket{
		Line: line, ExternalID: t.GetExternalId(), Kind: Kind(t.GetKind()), Source: Source(t.GetSource()),
		Category: t.GetCategory(), Title: t.GetTitle(), Description: t.GetDescription(), Location: fromProtoLocation(t.GetLocation()),
		Reporter:   Reporter{OrgUnitID: t.GetReporter().GetOrgUnitId(), Name: t.GetReporter().GetName(), Phone: t.GetReporter().GetPhone()},
		ReportedAt: t.GetReportedAt().AsTime(), Content: contentOf(content),
	}
	for _, s := range t.GetHistory() {
		it.History = append(it.History, Step{
			Action: StepAction(s.GetAction()), At: s.GetAt().AsTime(),
			Actor:      Actor{ID: s.GetActor().GetId(), OrgUnitID: s.GetActor().GetOrgUnitId(), Name: s.GetActor().GetDisplayName()},
			Department: s.GetDepartmentId(), AcceptDue: timeconv.FromProto(s.GetAcceptDue()), ResolveDue: timeconv.FromProto(s.GetResolveDue()),
			Note: s.GetNote(), Verdict: int32(s.GetVerdict()), EvaluationSource: int32(s.GetEvaluationSource()),
			EscalationLevel: s.GetEscalationLevel(), EscalationStage: s.GetEscalationStage(), ReturnReason: int32(s.GetReturnReason()),
			Withdrawn: s.GetWithdrawn(),
		})
	}
	return it
}

// withoutLine is the ticket without its line number, which says where it
// stood in a file, not what it is.
func withoutLine(t *whistlev1.ImportedTicket) *whistlev1.ImportedTicket {
	c := proto.Clone(t).(*whistlev1.ImportedTicket)
	c.Line = 0
	return c
}

func toProtoImportResult(res ImportResult) *whistlev1.ImportTicketsResponse {
	resp := &whistlev1.ImportTicketsResponse{Imported: res.Imported, AlreadyImported: res.AlreadyImported, Bad: res.Bad, DryRun: res.DryRun}
	for _, p := range res.Problems {
		resp.Problems = append(resp.Problems, &whistlev1.ImportProblem{Line: p.Line, ExternalId: p.ExternalID, Field: p.Field, Reason: p.Reason})
	}
	return resp
}
