package console

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// MaxUpload bounds a photo the console uploads.
const MaxUpload = 10 << 20

// uploadChunk is the size of the pieces an upload is sent in.
const uploadChunk = 256 << 10

// upload is POST /media?name=…&actor_id=…&org_unit_id=…: the body (a photo)
// uploaded with IntakeService.UploadMedia as the signed-in user, for the
// org unit named (intake checks it is the user's). It answers the Media.
func (c *Console) upload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUpload))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the photo is larger than 10 MiB")
		return
	}
	ctx, cancel := c.withTimeout(asUser(r))
	defer cancel()
	sum := sha256.Sum256(data)
	stream, err := whistlev1.NewIntakeServiceClient(c.cfg.Conn).UploadMedia(ctx)
	if err == nil {
		err = stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Header{Header: &whistlev1.MediaHeader{
			Name: q.Get("name"), SizeBytes: int64(len(data)), Sha256: hex.EncodeToString(sum[:]),
			Actor: &whistlev1.Actor{Id: q.Get("actor_id"), OrgUnitId: q.Get("org_unit_id")}}}})
	}
	for rest := data; err == nil && len(rest) > 0; rest = rest[min(len(rest), uploadChunk):] {
		err = stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Chunk{Chunk: rest[:min(len(rest), uploadChunk)]}})
	}
	var resp *whistlev1.UploadMediaResponse
	if err == nil || errors.Is(err, io.EOF) {
		resp, err = stream.CloseAndRecv()
	}
	if err != nil {
		st := status.Convert(err)
		writeError(w, httpStatus(st.Code()), st.Message())
		return
	}
	out, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(out)
}

// download is GET /media/{id}: the file, read with IntakeService.GetMedia
// as the signed-in user (the page fetches it with the Authorization header
// and shows it from a blob: URL), with its stored content type.
func (c *Console) download(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.withTimeout(asUser(r))
	defer cancel()
	stream, err := whistlev1.NewIntakeServiceClient(c.cfg.Conn).GetMedia(ctx, &whistlev1.GetMediaRequest{MediaId: r.PathValue("id")})
	var first *whistlev1.GetMediaResponse
	if err == nil {
		first, err = stream.Recv()
	}
	if err != nil {
		st := status.Convert(err)
		writeError(w, httpStatus(st.Code()), st.Message())
		return
	}
	m := first.GetMedia()
	w.Header().Set("Content-Type", m.GetContentType())
	w.Header().Set("Content-Disposition", "inline")
	for {
		msg, err := stream.Recv()
		if err != nil {
			return // io.EOF at the end; otherwise the client sees a short body
		}
		if _, err := w.Write(msg.GetChunk()); err != nil {
			return
		}
	}
}
