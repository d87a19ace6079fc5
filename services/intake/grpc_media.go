package intake

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/policy"
)

// downloadChunk is the size of the pieces a download is sent in.
const downloadChunk = 256 << 10

func (g *grpcServer) UploadMedia(stream grpc.ClientStreamingServer[whistlev1.UploadMediaRequest, whistlev1.UploadMediaResponse]) error {
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return ErrUploadHeaderFirst
	}
	unit := actingUnit(ctx, h.GetActor().GetOrgUnitId())
	if err := policy.ActingAs(ctx, unit); err != nil {
		return err
	}
	if err := policy.Authorize(ctx, actUploadMedia, policy.Resource{}); err != nil {
		return err
	}
	m, err := g.svc.UploadMedia(ctx, Upload{Name: h.GetName(), Size: h.GetSizeBytes(), SHA256: h.GetSha256(),
		By: unit}, &chunks{stream: stream, left: h.GetSizeBytes()})
	if err != nil {
		return err
	}
	return stream.SendAndClose(&whistlev1.UploadMediaResponse{Media: toProtoMedia(m)})
}

// chunks reads an upload's bytes from its stream, up to one byte more than
// declared (so that a longer upload is seen as such).
type chunks struct {
	stream grpc.ClientStreamingServer[whistlev1.UploadMediaRequest, whistlev1.UploadMediaResponse]
	buf    []byte
	left   int64
}

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.left < 0 {
			return 0, io.EOF
		}
		msg, err := c.stream.Recv()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		if msg.GetHeader() != nil {
			return 0, ErrUploadHeaderTwice
		}
		c.buf = msg.GetChunk()
		c.left -= int64(len(c.buf))
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (g *grpcServer) GetMedia(req *whistlev1.GetMediaRequest, stream grpc.ServerStreamingServer[whistlev1.GetMediaResponse]) error {
	ctx := stream.Context()
	m, err := g.mayReadMedia(ctx, req.GetMediaId())
	if err != nil {
		return err
	}
	body, err := g.svc.OpenMedia(ctx, m)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := stream.Send(&whistlev1.GetMediaResponse{Part: &whistlev1.GetMediaResponse_Media{Media: toProtoMedia(m)}}); err != nil {
		return err
	}
	buf := make([]byte, downloadChunk)
	for {
		n, err := io.ReadFull(body, buf)
		if n > 0 {
			if err := stream.Send(&whistlev1.GetMediaResponse{Part: &whistlev1.GetMediaResponse_Chunk{Chunk: buf[:n]}}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (g *grpcServer) ListMedia(ctx context.Context, req *whistlev1.ListMediaRequest) (*whistlev1.ListMediaResponse, error) {
	t, err := g.svc.GetTicket(ctx, req.GetTicket())
	if err != nil {
		return nil, err
	}
	if _, err := g.mayRead(ctx, actListMedia, t); err != nil {
		return nil, err
	}
	ms, err := g.svc.ListMedia(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	resp := &whistlev1.ListMediaResponse{}
	for _, m := range ms {
		resp.Media = append(resp.Media, toProtoMedia(m))
	}
	return resp, nil
}

// mayReadMedia returns a file the caller may fetch: one attached to a
// ticket it may read (in its area, or its department's), or one its own
// unit uploaded and has not attached yet; any other is "not found".
func (g *grpcServer) mayReadMedia(ctx context.Context, id string) (MediaFile, error) {
	m, err := g.svc.GetMediaFile(ctx, id)
	if err != nil {
		return MediaFile{}, err
	}
	if m.TicketID == "" {
		if policy.ActingAs(ctx, m.UploadedBy) != nil {
			return MediaFile{}, ErrMediaNotFound
		}
		return m, nil
	}
	t, err := g.svc.GetTicket(ctx, m.TicketID)
	if err != nil {
		return MediaFile{}, err
	}
	if _, err := g.mayRead(ctx, actGetMedia, t); err != nil {
		if errors.Is(err, ErrNotFound) {
			err = ErrMediaNotFound
		}
		return MediaFile{}, err
	}
	return m, nil
}

func toProtoMedia(m MediaFile) *whistlev1.Media {
	return &whistlev1.Media{Id: m.ID, Name: m.Name, ContentType: m.ContentType, Kind: m.Kind, SizeBytes: m.Size, Sha256: m.SHA256,
		Width: int32(m.Width), Height: int32(m.Height), Stripped: m.Stripped, TicketId: m.TicketID, UploadedByOrgUnitId: m.UploadedBy,
		UploadedAt: timestamppb.New(m.UploadedAt), Orientation: int32(m.Orientation)}
}
