package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/whistle-civic/whistle/pkg/media"
)

// FuzzClean feeds Clean arbitrary bytes, starting from every kind of file
// the tests build: it must never panic, refuse only with a *RefusedError
// and then write nothing, never write more than it read, describe what it
// wrote truthfully, and leave nothing to remove in what it wrote.
func FuzzClean(f *testing.F) {
	m := pattern(16, 12)
	add := func(b []byte, _ ...[]byte) {
		f.Add(b)
		if len(b) > 8 {
			f.Add(b[:len(b)/2])
			f.Add(b[:len(b)-3])
		}
	}
	add(jpegWithMetadata(f, m))
	add(pngWithMetadata(f, m))
	add(webpWithMetadata(f, "lossless-16x12.webp"))
	add(webpWithMetadata(f, "lossy-16x12.webp"))
	add(mp4WithMetadata("isom", "vide"))
	add(mp4WithMetadata("qt  ", "vide"))
	add(webmWithMetadata("webm", 1, false))
	add(webmWithMetadata("webm", 1, true))
	add(cjpegWithMetadata(f, "progressive-40x30.jpg"))
	add(cjpegWithMetadata(f, "baseline-restart-40x30.jpg"))
	add(readTestdata(f, "progressive-restart-40x30.jpg"))
	add(pngBomb(100000, 100000))
	add(riff(vp8x(0x02, 16, 12), riffChunk("ANIM", make([]byte, 6))))
	add([]byte("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"))
	limits := media.Limits{MaxPhotoBytes: 1 << 20, MaxVideoBytes: 1 << 20, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		info, err := media.Clean(&out, bytes.NewReader(in), limits)
		if err != nil {
			var re *media.RefusedError
			if !errors.As(err, &re) || re.Reason == "" || re.Message == "" {
				t.Fatalf("not a refusal: %v", err)
			}
			if out.Len() != 0 {
				t.Fatalf("a refusal (%v) wrote %d bytes", err, out.Len())
			}
			return
		}
		if out.Len() > len(in) {
			t.Fatalf("wrote %d bytes for %d read", out.Len(), len(in))
		}
		sum := sha256.Sum256(out.Bytes())
		if info.Size != int64(out.Len()) || info.SHA256 != hex.EncodeToString(sum[:]) || info.ContentType == "" {
			t.Fatalf("Info %+v does not describe the %d bytes written", info, out.Len())
		}
		var again bytes.Buffer
		info2, err := media.Clean(&again, bytes.NewReader(out.Bytes()), limits)
		if err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) || len(info2.Stripped) != 0 || info2.ContentType != info.ContentType {
			t.Fatalf("cleaning the cleaned file: %v, same bytes %v, stripped %q, type %s then %s",
				err, bytes.Equal(again.Bytes(), out.Bytes()), info2.Stripped, info.ContentType, info2.ContentType)
		}
	})
}
