package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// uploadChunk is the size of the pieces an upload is sent in.
const uploadChunk = 512 << 10

// UploadMedia stores a photo or short video for actor's unit and returns it
// as kept (metadata stripped, type sniffed): attach it by its id within an
// hour — ReportRequest.PhotoIds, or an Attachment's MediaId on progress or a
// result. The file is read whole first, to send its size and SHA-256 ahead
// of it. A refused file is InvalidArgument (ResourceExhausted over a
// limit) saying why; nothing is kept.
func (c *Client) UploadMedia(ctx context.Context, name string, r io.Reader, actor *whistlev1.Actor) (*whistlev1.Media, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("upload %s: read it: %w", name, err)
	}
	sum := sha256.Sum256(data)
	stream, err := c.intake.UploadMedia(ctx)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", name, err)
	}
	header := &whistlev1.MediaHeader{Name: name, SizeBytes: int64(len(data)), Sha256: hex.EncodeToString(sum[:]), Actor: actor}
	if err := stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Header{Header: header}}); err != nil {
		return nil, uploadFailed(name, stream, err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), uploadChunk)
		if err := stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Chunk{Chunk: rest[:n]}}); err != nil {
			return nil, uploadFailed(name, stream, err)
		}
		rest = rest[n:]
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", name, err)
	}
	return resp.GetMedia(), nil
}

// uploadFailed returns the server's answer when a send failed because the
// server ended the call (a refusal), else the send's error.
func uploadFailed(name string, stream interface {
	CloseAndRecv() (*whistlev1.UploadMediaResponse, error)
}, err error) error {
	if errors.Is(err, io.EOF) {
		_, err = stream.CloseAndRecv()
	}
	return fmt.Errorf("upload %s: %w", name, err)
}

// DownloadMedia writes a stored file's bytes to w and returns its record.
func (c *Client) DownloadMedia(ctx context.Context, mediaID string, w io.Writer) (*whistlev1.Media, error) {
	stream, err := c.intake.GetMedia(ctx, &whistlev1.GetMediaRequest{MediaId: mediaID})
	if err != nil {
		return nil, fmt.Errorf("media %s: %w", mediaID, err)
	}
	var m *whistlev1.Media
	for {
		part, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return m, fmt.Errorf("media %s: %w", mediaID, err)
		}
		if part.GetMedia() != nil {
			m = part.GetMedia()
			continue
		}
		if _, err := w.Write(part.GetChunk()); err != nil {
			return m, fmt.Errorf("media %s: write: %w", mediaID, err)
		}
	}
}

// FetchMedia returns a stored file's bytes and record.
func (c *Client) FetchMedia(ctx context.Context, mediaID string) ([]byte, *whistlev1.Media, error) {
	var b bytes.Buffer
	m, err := c.DownloadMedia(ctx, mediaID, &b)
	return b.Bytes(), m, err
}

// ListMedia lists a ticket's photos and evidence (by id or number).
func (c *Client) ListMedia(ctx context.Context, ticket string) ([]*whistlev1.Media, error) {
	resp, err := c.intake.ListMedia(ctx, &whistlev1.ListMediaRequest{Ticket: ticket})
	return resp.GetMedia(), err
}
