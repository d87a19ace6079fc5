package intake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/whistle-civic/whistle/pkg/clock"
	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
	"github.com/whistle-civic/whistle/pkg/grpcserver"
	"github.com/whistle-civic/whistle/pkg/grpcserver/grpctest"
	"github.com/whistle-civic/whistle/pkg/objstore"
	"github.com/whistle-civic/whistle/pkg/platform/platformtest"
	"github.com/whistle-civic/whistle/services/intake"
)

// phonePhoto is a JPEG of about the size a phone sends (1600×1200 of noise,
// which does not compress: about 1.5 MB).
func phonePhoto(tb testing.TB) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 1600, 1200))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkUploadMedia uploads a phone photo through the gRPC API (bufconn)
// into a folder store, each one sniffed, bounded, decoded, stripped and
// recorded in PostgreSQL: MB/s and photos/s of the whole upload.
func BenchmarkUploadMedia(b *testing.B) {
	deps := platformtest.Deps(b, intake.Name, intake.Migrations(), nil, clock.NewFake(start))
	dir, err := objstore.OpenDir(filepath.Join(b.TempDir(), "media"))
	if err != nil {
		b.Fatal(err)
	}
	svc := intake.New(deps, intake.Config{City: "HH", Media: intake.MediaConfig{Store: dir}})
	conn := grpctest.Serve(b, grpcserver.Options{Log: deps.Log, Telemetry: deps.Telemetry}, svc.Register)
	client := whistlev1.NewIntakeServiceClient(conn)
	photo := phonePhoto(b)
	sum := sha256.Sum256(photo)
	header := &whistlev1.MediaHeader{Name: "p.jpg", SizeBytes: int64(len(photo)), Sha256: hex.EncodeToString(sum[:]),
		Actor: &whistlev1.Actor{Id: "b", OrgUnitId: "xc-hd-dj-g01"}}
	b.SetBytes(int64(len(photo)))
	for b.Loop() {
		stream, err := client.UploadMedia(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		_ = stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Header{Header: header}})
		for rest := photo; len(rest) > 0; {
			n := min(len(rest), 512<<10)
			_ = stream.Send(&whistlev1.UploadMediaRequest{Part: &whistlev1.UploadMediaRequest_Chunk{Chunk: rest[:n]}})
			rest = rest[n:]
		}
		if _, err := stream.CloseAndRecv(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "photos/s")
}
