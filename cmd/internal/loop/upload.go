package loop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// uploadChunk is the size of the pieces Upload sends.
const uploadChunk = 1 << 20

// Upload sends data to IntakeService.UploadMedia as name, acting for
// actor, in one header and chunks. The header declares size (0: the
// data's own) and the data's SHA-256, so that a test can declare a size
// the bytes do not have. When the server ends the call early (a refusal),
// its answer is returned.
func Upload(ctx context.Context, c Clients, name string, data []byte, size int64, actor *whistlev1.Actor) (*whistlev1.Media, error) {
	if size == 0 {
		size = int64(len(data))
	}
	sum := sha256.Sum256(data)
	stream, err := c.Intake.UploadMedia(ctx)
	if err != nil {
		return nil, err
	}
	header := &whistlev1.MediaHeader{Name: name, SizeBytes: size, Sha256: hex.EncodeToString(sum[:]), Actor: actor}
	if stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Header{Header: header}}) == nil {
		for rest := data; len(rest) > 0; rest = rest[min(len(rest), uploadChunk):] {
			if stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Chunk{Chunk: rest[:min(len(rest), uploadChunk)]}}) != nil {
				break // the server ended the call: its answer follows
			}
		}
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetMedia(), err
}

// UploadJPEG uploads a small JPEG acting for actor and returns its id.
func UploadJPEG(ctx context.Context, c Clients, actor *whistlev1.Actor) (string, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		return "", err
	}
	m, err := Upload(ctx, c, "photo.jpg", b.Bytes(), 0, actor)
	return m.GetId(), err
}
