package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
)

// uploadPhoto uploads a small JPEG acting for actor and returns its id.
func uploadPhoto(ctx context.Context, c loop.Clients, actor *whistlev1.Actor) (string, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b.Bytes())
	stream, err := c.Intake.UploadMedia(ctx)
	if err != nil {
		return "", err
	}
	header := &whistlev1.MediaHeader{Name: "adversarial.jpg", SizeBytes: int64(b.Len()), Sha256: hex.EncodeToString(sum[:]), Actor: actor}
	if stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Header{Header: header}}) == nil {
		_ = stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Chunk{Chunk: b.Bytes()}})
	}
	resp, err := stream.CloseAndRecv()
	return resp.GetMedia().GetId(), err
}
