package stack_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/whistle-civic/whistle/pkg/auth"
	"github.com/whistle-civic/whistle/pkg/eventually"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/objstore"
	"github.com/whistle-civic/whistle/pkg/objstore/objstoretest"
	"github.com/whistle-civic/whistle/services/intake"

	"github.com/whistle-civic/whistle/cmd/internal/loop"
	"github.com/whistle-civic/whistle/cmd/internal/stack/stacktest"
)

// snapshot returns a phone photo as uploaded (EXIF with a GPS position and
// the camera, and a comment) and as it must be kept (the same JPEG without
// them).
func snapshot(t *testing.T) (upload, kept []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(3, 3, color.RGBA{R: 255, A: 255})
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	segment := func(marker byte, payload string) []byte {
		s := []byte{0xFF, marker, 0, 0}
		binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
		return append(s, payload...)
	}
	b := plain.Bytes()
	upload = slices.Concat(b[:2], segment(0xE1, "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPS 39.9400N 116.4000E HomeCam"),
		segment(0xFE, "taken at home"), b[2:])
	return upload, b
}

// TestPhotosKeptInS3 reports a snapshot with a photo through a real S3
// server, fetches it back as stored (the same JPEG without its EXIF and
// comment), attaches evidence to the result, refuses bad uploads leaving
// nothing behind, and sweeps an upload never attached.
func TestPhotosKeptInS3(t *testing.T) {
	s3cfg := objstoretest.StartS3(t)
	st, err := objstore.Open(s3cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := stacktest.StartWith(t, stacktest.Options{Intake: intake.Config{Media: intake.MediaConfig{Store: st}}})
	s := scenario{t: t, r: r, ctx: context.Background()}
	const grid = "xc-hd-dj-g01"
	worker, me := s.client(auth.RoleReporter, grid), &whistlev1.Actor{Id: "rider-7", OrgUnitId: grid}
	upload, kept := snapshot(t)

	photo, err := worker.UploadMedia(s.ctx, "pothole.jpg", bytes.NewReader(upload), me)
	s.do("upload", err)
	sum := sha256.Sum256(kept)
	if photo.GetContentType() != "image/jpeg" || photo.GetSizeBytes() != int64(len(kept)) || photo.GetSha256() != hex.EncodeToString(sum[:]) ||
		photo.GetWidth() != 64 || photo.GetHeight() != 48 || len(photo.GetStripped()) == 0 {
		t.Fatalf("stored %v; want the JPEG without its metadata (%d bytes)", photo, len(kept))
	}
	resp, err := s.as(auth.RoleReporter, grid).Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: "snap-1",
		Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_PART_TIME_GRID_WORKER, Category: "road_damage",
		Description: "a pothole", Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid},
		PhotoIds: []string{photo.GetId()}})
	s.do("report with the photo", err)
	id := resp.GetTicket().GetId()
	if !slices.Equal(resp.GetTicket().GetPhotoIds(), []string{photo.GetId()}) {
		t.Fatalf("the ticket holds photos %v", resp.GetTicket().GetPhotoIds())
	}
	got, m, err := worker.FetchMedia(s.ctx, photo.GetId())
	s.do("fetch the photo", err)
	if !bytes.Equal(got, kept) || m.GetTicketId() != id {
		t.Fatalf("fetched %d bytes for ticket %s; want the %d bytes kept, of %s", len(got), m.GetTicketId(), len(kept), id)
	}
	for _, secret := range []string{"Exif", "GPS", "HomeCam", "taken at home"} {
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("the stored photo still holds %q", secret)
		}
	}
	if _, err := s.as(auth.RoleReporter, "xc-hd-dj-g02").Intake.ListMedia(s.ctx, &whistlev1.ListMediaRequest{Ticket: id}); status.Code(err) != codes.NotFound {
		t.Errorf("another grid lists the ticket's photos: %v, want NotFound", err)
	}
	if _, _, err := s.client(auth.RoleReporter, "xc-hd-dj-g02").FetchMedia(s.ctx, photo.GetId()); status.Code(err) != codes.NotFound {
		t.Errorf("another grid fetches the photo: %v, want NotFound", err)
	}
	if _, err := s.as(auth.RoleReporter, grid).Intake.Report(s.ctx, &whistlev1.ReportRequest{IdempotencyKey: "snap-again",
		Kind: whistlev1.WhistleKind_WHISTLE_KIND_DAILY, Source: whistlev1.Source_SOURCE_PART_TIME_GRID_WORKER, Category: "noise_commercial",
		Description: "the same photo again", Location: &whistlev1.Location{GridId: grid}, Reporter: &whistlev1.Reporter{OrgUnitId: grid},
		PhotoIds: []string{photo.GetId()}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a photo attached twice: %v, want InvalidArgument", err)
	}

	// The department sees the photo and attaches its own evidence to the result.
	s.waitInbox(id, "xc-urban", inInbox)
	dept, handler := s.client(auth.RoleDepartmentHandler, "xc-urban"), &whistlev1.Actor{Id: "h", OrgUnitId: "xc-urban"}
	if got, _, err := dept.FetchMedia(s.ctx, photo.GetId()); err != nil || !bytes.Equal(got, kept) {
		t.Fatalf("the department fetches the report's photo: %d bytes, %v", len(got), err)
	}
	after, err := dept.UploadMedia(s.ctx, "after.jpg", bytes.NewReader(kept), handler)
	s.do("upload evidence", err)
	_, err = s.as(auth.RoleDepartmentHandler, "xc-urban").Response.Accept(s.ctx, &whistlev1.AcceptRequest{TicketId: id, Actor: handler})
	s.do("accept", err)
	_, err = s.as(auth.RoleDepartmentHandler, "xc-urban").Response.Resolve(s.ctx, &whistlev1.ResolveRequest{TicketId: id, Actor: handler,
		Result: "filled", MissingAssistsReason: "none needed", Evidence: []*whistlev1.Attachment{{Name: "after.jpg",
			SizeBytes: after.GetSizeBytes(), Sha256: after.GetSha256(), MediaId: after.GetId()}}})
	s.do("resolve with evidence", err)
	eventually.Seen(t, "the evidence attached to the ticket", func() (bool, string) {
		ms, err := worker.ListMedia(s.ctx, id)
		var names []string
		for _, m := range ms {
			names = append(names, m.GetName()+"@"+m.GetTicketId())
		}
		return err == nil && len(ms) == 2 && ms[1].GetId() == after.GetId() && ms[1].GetTicketId() == id, strings.Join(names, " ")
	})

	// The community finds it still broken and says so with a photo; a satisfied verdict takes none.
	const community = "xc-hd-dj"
	judge, officer := s.client(auth.RoleCommunityOfficer, community), &whistlev1.Actor{Id: "secretary", OrgUnitId: community}
	still, err := judge.UploadMedia(s.ctx, "still-broken.jpg", bytes.NewReader(kept), officer)
	s.do("upload the evaluator's photo", err)
	eventually.True(t, "the evaluation of "+id, func() bool {
		e, err := s.monitor().Evaluation.GetEvaluation(s.ctx, &whistlev1.GetEvaluationRequest{TicketId: id})
		return err == nil && e.GetEvaluation().GetState() == whistlev1.EvaluationState_EVALUATION_STATE_OPEN
	})
	photoOf := []*whistlev1.Attachment{{Name: "still-broken.jpg", SizeBytes: still.GetSizeBytes(), Sha256: still.GetSha256(), MediaId: still.GetId()}}
	_, err = s.as(auth.RoleCommunityOfficer, community).Evaluation.Evaluate(s.ctx, &whistlev1.EvaluateRequest{TicketId: id,
		Verdict: whistlev1.Verdict_VERDICT_SATISFIED, Evaluator: officer, Attachments: photoOf})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "unsatisfied verdict only") {
		t.Fatalf("a satisfied verdict with a photo: %v, want InvalidArgument", err)
	}
	_, err = s.as(auth.RoleCommunityOfficer, community).Evaluation.Evaluate(s.ctx, &whistlev1.EvaluateRequest{TicketId: id,
		Verdict: whistlev1.Verdict_VERDICT_UNSATISFIED, Comment: "the edge is crumbling", ReasonCodes: []string{"not_fixed"},
		Evaluator: officer, Attachments: photoOf})
	s.do("an unsatisfied verdict with a photo", err)
	eventually.Seen(t, "the evaluator's photo attached to the ticket", func() (bool, string) {
		ms, err := dept.ListMedia(s.ctx, id)
		return err == nil && len(ms) == 3 && ms[2].GetId() == still.GetId() && ms[2].GetTicketId() == id, fmt.Sprint(len(ms), err)
	})

	// Bad uploads are refused with their reason and leave nothing behind.
	before := objects(t, st)
	for _, tc := range []struct {
		name string
		data []byte
		size int64
		want codes.Code
		says string
	}{
		{"a text file", []byte("hello, not a photo"), 0, codes.InvalidArgument, "not a photo"},
		{"an HTML page", []byte("<!doctype html><html><script>alert(1)</script></html>"), 0, codes.InvalidArgument, "not a photo"},
		{"a truncated JPEG", kept[:len(kept)/2], 0, codes.InvalidArgument, ""},
		{"a pixel bomb", pixelBomb(), 0, codes.ResourceExhausted, "megapixels"},
		{"more than a photo may weigh", append(slices.Clone(kept), make([]byte, 11<<20)...), 0, codes.ResourceExhausted, "larger than"},
		{"bytes other than declared", kept, int64(len(kept) + 1), codes.InvalidArgument, "do not match"},
	} {
		_, err := loop.Upload(s.ctx, s.as(auth.RoleReporter, grid), strings.ReplaceAll(tc.name, " ", "-")+".bin", tc.data, tc.size, me)
		if status.Code(err) != tc.want || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("upload %s: %v, want %s saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	if after := objects(t, st); !slices.Equal(after, before) {
		t.Fatalf("refused uploads left objects behind: %v, was %v", after, before)
	}

	// An upload never attached is swept once it is older than its hour.
	stray, err := worker.UploadMedia(s.ctx, "stray.jpg", bytes.NewReader(kept), me)
	s.do("upload a stray", err)
	svc, _ := r.Stack.Service(intake.Name).(*intake.Service)
	if n, err := svc.SweepMedia(s.ctx, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("a sweep of what is older than an hour removed %d, %v; want nothing", n, err)
	}
	if n, err := svc.SweepMedia(s.ctx, time.Now().Add(time.Second), 100); err != nil || n != 1 {
		t.Fatalf("the sweep removed %d, %v; want the stray upload", n, err)
	}
	if _, _, err := worker.FetchMedia(s.ctx, stray.GetId()); status.Code(err) != codes.NotFound {
		t.Errorf("the swept upload: %v, want NotFound", err)
	}
	if got := objects(t, st); !slices.Equal(got, before) {
		t.Fatalf("objects after the sweep %v; want %v (the two attached)", got, before)
	}
}

// objects lists the store's keys.
func objects(t *testing.T, st objstore.Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), "media/", func(i objstore.Info) error {
		keys = append(keys, i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// pixelBomb is a tiny PNG whose header claims 100,000 × 100,000 pixels.
func pixelBomb() []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100_000)
	binary.BigEndian.PutUint32(ihdr[4:], 100_000)
	ihdr[8], ihdr[9] = 8, 2
	chunk := func(typ string, data []byte) []byte {
		c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		c = append(append(c, typ...), data...)
		return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	return slices.Concat([]byte("\x89PNG\r\n\x1a\n"), chunk("IHDR", ihdr), chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}),
		chunk("IEND", nil))
}
