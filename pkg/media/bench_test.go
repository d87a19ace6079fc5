package media_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/whistle-civic/whistle/pkg/media"
)

// BenchmarkCleanJPEG cleans a photo of about 3 MB (random pixels, so that
// it is large for its dimensions, with an EXIF block): with the full
// decode (the default) and with SkipDecode, which shows what the structure
// walk alone costs.
func BenchmarkCleanJPEG(b *testing.B) {
	jpg := noiseJPEG(b, 3<<20)
	for _, bc := range []struct {
		name   string
		limits media.Limits
	}{
		{"decode", media.Limits{}},
		{"skip-decode", media.Limits{SkipDecode: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(jpg)))
			b.ReportAllocs()
			var info media.Info
			for b.Loop() {
				var err error
				if info, err = media.Clean(io.Discard, bytes.NewReader(jpg), bc.limits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(info.Width*info.Height)/1e6, "Mpixel")
		})
	}
}
