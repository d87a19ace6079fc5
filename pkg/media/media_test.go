package media_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/image/webp"

	"github.com/whistle-civic/whistle/pkg/media"
)

func clean(t testing.TB, upload []byte, l media.Limits) ([]byte, media.Info, error) {
	t.Helper()
	var out bytes.Buffer
	info, err := media.Clean(&out, bytes.NewReader(upload), l)
	return out.Bytes(), info, err
}

// samePixels decodes a and b and fails unless their pixels are equal.
func samePixels(t *testing.T, contentType string, a, b []byte) {
	t.Helper()
	decode := map[string]func(io.Reader) (image.Image, error){
		media.TypeJPEG: jpeg.Decode, media.TypePNG: png.Decode, media.TypeWebP: webp.Decode,
	}[contentType]
	ma, err := decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode the upload: %v", err)
	}
	mb, err := decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode the cleaned file: %v", err)
	}
	if ma.Bounds() != mb.Bounds() {
		t.Fatalf("bounds %v, cleaned %v", ma.Bounds(), mb.Bounds())
	}
	for y := ma.Bounds().Min.Y; y < ma.Bounds().Max.Y; y++ {
		for x := ma.Bounds().Min.X; x < ma.Bounds().Max.X; x++ {
			r1, g1, b1, a1 := ma.At(x, y).RGBA()
			r2, g2, b2, a2 := mb.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("pixel (%d,%d) differs: %v, cleaned %v", x, y, ma.At(x, y), mb.At(x, y))
			}
		}
	}
}

func TestCleanStripsMetadata(t *testing.T) {
	t.Parallel()
	m := pattern(64, 48)
	type built struct{ upload, want []byte }
	of := func(u, w []byte) built { return built{u, w} }
	for _, tc := range []struct {
		name          string
		file          built
		contentType   string
		kind          media.Kind
		width, height int
		orientation   int
		stripped      []string
	}{
		{"jpeg", of(jpegWithMetadata(t, m)), media.TypeJPEG, media.KindPhoto, 64, 48, 6,
			[]string{"exif", "xmp", "mpf", "iptc", "comment", "app9", "trailer"}},
		{"progressive jpeg", of(cjpegWithMetadata(t, "progressive-40x30.jpg")), media.TypeJPEG, media.KindPhoto, 40, 30, 3,
			[]string{"exif", "comment"}},
		{"jpeg with restart markers", of(cjpegWithMetadata(t, "baseline-restart-40x30.jpg")), media.TypeJPEG, media.KindPhoto, 40, 30, 3,
			[]string{"exif", "comment"}},
		{"png", of(pngWithMetadata(t, m)), media.TypePNG, media.KindPhoto, 64, 48, 8,
			[]string{"eXIf", "tEXt", "zTXt", "iTXt", "tIME", "ancillary:prVt", "trailer"}},
		{"webp lossless", of(webpWithMetadata(t, "lossless-16x12.webp")), media.TypeWebP, media.KindPhoto, 16, 12, 5,
			[]string{"exif", "xmp", "chunk:ZZZZ"}},
		{"webp lossy", of(webpWithMetadata(t, "lossy-16x12.webp")), media.TypeWebP, media.KindPhoto, 16, 12, 5,
			[]string{"exif", "xmp", "chunk:ZZZZ"}},
		{"mp4", of(mp4WithMetadata("isom", "vide")), media.TypeMP4, media.KindVideo, 320, 240, 0,
			[]string{"udta", "meta", "xmp"}},
		{"quicktime", of(mp4WithMetadata("qt  ", "vide")), media.TypeQuickTime, media.KindVideo, 320, 240, 0,
			[]string{"udta", "meta", "xmp"}},
		{"mp4 with 64-bit and to-the-end box sizes", of(mp4BoxSizes(mp4WithMetadata("isom", "vide"))), media.TypeMP4, media.KindVideo, 320, 240, 0,
			[]string{"udta", "meta", "xmp"}},
		{"webm", of(webmWithMetadata("webm", 1, false)), media.TypeWebM, media.KindVideo, 320, 240, 0,
			[]string{"Tags", "Attachments"}},
		{"webm recorded live", of(webmWithMetadata("webm", 1, true)), media.TypeWebM, media.KindVideo, 320, 240, 0,
			[]string{"Tags", "Attachments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			upload := bytes.Clone(tc.file.upload)
			out, info, err := clean(t, upload, media.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(upload, tc.file.upload) {
				t.Fatal("Clean changed the caller's bytes")
			}
			if !bytes.Equal(out, tc.file.want) {
				t.Fatalf("cleaned file (%d bytes) is not the expected one (%d bytes)", len(out), len(tc.file.want))
			}
			for _, needle := range gpsNeedles {
				if bytes.Contains(out, []byte(needle)) {
					t.Errorf("%q survived cleaning", needle)
				}
			}
			sum := sha256.Sum256(out)
			if info.Size != int64(len(out)) || info.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("Info size %d sha256 %s, the output is %d bytes with sha256 %x", info.Size, info.SHA256, len(out), sum)
			}
			if info.ContentType != tc.contentType || info.Kind != tc.kind || info.Width != tc.width || info.Height != tc.height ||
				info.Orientation != tc.orientation || !slices.Equal(info.Stripped, tc.stripped) {
				t.Errorf("Info %+v, want %s %s %d×%d orientation %d stripped %q",
					info, tc.contentType, tc.kind, tc.width, tc.height, tc.orientation, tc.stripped)
			}
			if tc.kind == media.KindPhoto {
				samePixels(t, tc.contentType, tc.file.upload, out)
			} else if len(out) != len(upload) {
				t.Errorf("a video changed length: %d to %d bytes", len(upload), len(out))
			}
			again, info2, err := clean(t, out, media.Limits{})
			if err != nil || !bytes.Equal(again, out) || len(info2.Stripped) != 0 {
				t.Errorf("cleaning the cleaned file: %v, same bytes %v, stripped %q", err, bytes.Equal(again, out), info2.Stripped)
			}
		})
	}
}

func TestCleanKeepsCleanFiles(t *testing.T) {
	t.Parallel()
	m := pattern(33, 17)
	for _, tc := range []struct {
		name   string
		file   []byte
		limits media.Limits
	}{
		{"jpeg", encodeJPEG(t, m, 75), media.Limits{}},
		{"png", encodePNG(t, m), media.Limits{}},
		{"progressive jpeg", readTestdata(t, "progressive-40x30.jpg"), media.Limits{}},
		{"jpeg with restart markers", readTestdata(t, "baseline-restart-40x30.jpg"), media.Limits{}},
		// image/jpeg cannot decode progressive scans with restart markers;
		// their structure is still walked right.
		{"progressive jpeg with restart markers", readTestdata(t, "progressive-restart-40x30.jpg"), media.Limits{SkipDecode: true}},
		{"webp", readTestdata(t, "lossless-16x12.webp"), media.Limits{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, info, err := clean(t, tc.file, tc.limits)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.file) || len(info.Stripped) != 0 {
				t.Fatalf("a file without metadata changed (stripped %q)", info.Stripped)
			}
		})
	}
}

// endless is a reader of head followed by an endless run of fill, that
// counts what was read.
type endless struct {
	head []byte
	fill byte
	n    int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.head)
	e.head = e.head[n:]
	for i := n; i < len(p); i++ {
		p[i] = e.fill
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestCleanRefuses(t *testing.T) {
	t.Parallel()
	m := pattern(64, 48)
	jpg := encodeJPEG(t, m, 90)
	pngFile := encodePNG(t, m)
	mp4, _ := mp4WithMetadata("isom", "vide")
	webmFile, _ := webmWithMetadata("webm", 1, false)
	animated := riff(vp8x(0x02, 16, 12), riffChunk("ANIM", make([]byte, 6)), riffChunk("ANMF", make([]byte, 16)))
	heic := cat(mp4Box("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")), mp4Box("meta", fullBox(0, hdlr("pict"))), mp4Box("mdat", []byte("x")))
	audio, _ := mp4WithMetadata("M4A ", "soun")
	webmAudio, _ := webmWithMetadata("webm", 2, false)
	mkv, _ := webmWithMetadata("matroska", 1, false)
	badCRC := bytes.Clone(pngFile)
	badCRC[len(badCRC)-13] ^= 0xFF // in IDAT's CRC or data
	for _, tc := range []struct {
		name   string
		file   []byte
		limits media.Limits
		reason string
		says   string
	}{
		{"text renamed .jpg", []byte("This is not a photo, just a note.\n"), media.Limits{}, media.ReasonUnsupportedType, "it is text"},
		{"html", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"), media.Limits{}, media.ReasonUnsupportedType, "markup"},
		{"svg", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), media.Limits{}, media.ReasonUnsupportedType, "markup"},
		{"svg with leading space", []byte("  \n<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"4\"/></svg>"), media.Limits{}, media.ReasonUnsupportedType, "markup"},
		{"empty", nil, media.Limits{}, media.ReasonUnsupportedType, "empty"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), media.Limits{}, media.ReasonUnsupportedType, "GIF"},
		{"pdf", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), media.Limits{}, media.ReasonUnsupportedType, "PDF"},
		{"heic photo", heic, media.Limits{}, media.ReasonUnsupportedType, "HEIC"},
		{"mp4 without video", audio, media.Limits{}, media.ReasonUnsupportedType, "no video track"},
		{"webm without video", webmAudio, media.Limits{}, media.ReasonUnsupportedType, "no video track"},
		{"matroska", mkv, media.Limits{}, media.ReasonUnsupportedType, "Matroska"},
		{"animated webp", animated, media.Limits{}, media.ReasonUnsupportedType, "animated"},
		{"png claiming 100000×100000", pngBomb(100000, 100000), media.Limits{}, media.ReasonTooManyPixels, "100000×100000"},
		{"png over a lower pixel limit", pngFile, media.Limits{MaxPixels: 64*48 - 1}, media.ReasonTooManyPixels, "megapixels"},
		{"jpeg claiming 65500×65500", jpegResized(t, jpg, 65500, 65500), media.Limits{}, media.ReasonTooManyPixels, "65500×65500"},
		{"jpeg over the size limit", jpg, media.Limits{MaxPhotoBytes: int64(len(jpg)) - 1}, media.ReasonTooLarge, "larger than"},
		{"mp4 over the size limit", mp4, media.Limits{MaxVideoBytes: 100}, media.ReasonTooLarge, "100 bytes"},
		{"truncated jpeg", jpg[:len(jpg)/2], media.Limits{}, media.ReasonCorrupt, "JPEG"},
		{"jpeg cut in its header", jpg[:40], media.Limits{}, media.ReasonCorrupt, "JPEG"},
		{"jpeg without EOI", jpg[:len(jpg)-2], media.Limits{}, media.ReasonCorrupt, "ends inside its image data"},
		{"jpeg without scan", []byte("\xFF\xD8\xFF\xFE\x00\x04hi\xFF\xD9"), media.Limits{}, media.ReasonCorrupt, "no image data"},
		{"jpeg without Huffman tables", jpegWithoutDHT(jpg), media.Limits{}, media.ReasonCorrupt, "do not decode"},
		{"jpeg with 300 scans", manyScans(t, 300), media.Limits{}, media.ReasonUnsupportedType, "more than 256 scans"},
		{"jpeg, just the signature", []byte{0xFF, 0xD8, 0xFF}, media.Limits{}, media.ReasonCorrupt, "JPEG"},
		{"truncated png", pngFile[:len(pngFile)-20], media.Limits{}, media.ReasonCorrupt, "PNG"},
		{"png with a bad CRC", badCRC, media.Limits{}, media.ReasonCorrupt, "CRC"},
		{"truncated webp", riff(vp8x(0, 16, 12), webpImageChunk(t, "lossless-16x12.webp"))[:40], media.Limits{}, media.ReasonCorrupt, "WebP"},
		{"truncated mp4", mp4[:len(mp4)-10], media.Limits{}, media.ReasonCorrupt, "MP4"},
		{"mp4 without moov", mp4Box("ftyp", []byte("isom\x00\x00\x00\x00isom")), media.Limits{}, media.ReasonCorrupt, "moov"},
		{"truncated webm", webmFile[:len(webmFile)-30], media.Limits{}, media.ReasonCorrupt, "WebM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := clean(t, tc.file, tc.limits)
			checkRefusal(t, err, tc.reason, tc.says)
			if len(out) != 0 {
				t.Errorf("a refused file wrote %d bytes", len(out))
			}
		})
	}
}

func checkRefusal(t *testing.T, err error, reason, says string) {
	t.Helper()
	var re *media.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("Clean: %v, want a *RefusedError", err)
	}
	sentinel := map[string]error{
		media.ReasonTooLarge: media.ErrTooLarge, media.ReasonUnsupportedType: media.ErrUnsupportedType,
		media.ReasonTooManyPixels: media.ErrTooManyPixels, media.ReasonCorrupt: media.ErrCorrupt,
	}[reason]
	if re.Reason != reason || !errors.Is(err, sentinel) || !strings.Contains(re.Message, says) {
		t.Fatalf("Clean: %v (reason %s), want reason %s saying %q", err, re.Reason, reason, says)
	}
	for r, s := range map[string]error{media.ReasonTooLarge: media.ErrTooLarge, media.ReasonCorrupt: media.ErrCorrupt} {
		if r != reason && errors.Is(err, s) {
			t.Fatalf("a %s refusal matches %v", reason, s)
		}
	}
	if limit := reason == media.ReasonTooLarge || reason == media.ReasonTooManyPixels; re.LimitExceeded() != limit {
		t.Fatalf("LimitExceeded() = %v for %s", re.LimitExceeded(), reason)
	}
}

func TestCleanReadsAtMostTheLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		head   []byte
		limits media.Limits
		limit  int64
	}{
		{"photo", []byte{0xFF, 0xD8, 0xFF, 0xE0}, media.Limits{MaxPhotoBytes: 5000}, 5000},
		{"video", mp4Box("ftyp", []byte("isom\x00\x00\x00\x00")), media.Limits{MaxVideoBytes: 70_000}, 70_000},
		{"default photo limit", []byte{0xFF, 0xD8, 0xFF, 0xE0}, media.Limits{}, media.DefaultMaxPhotoBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &endless{head: tc.head, fill: 0}
			var out bytes.Buffer
			_, err := media.Clean(&out, iotest.HalfReader(src), tc.limits)
			checkRefusal(t, err, media.ReasonTooLarge, "larger than")
			var re *media.RefusedError
			if errors.As(err, &re); re.Limit != tc.limit {
				t.Errorf("Limit %d, want %d", re.Limit, tc.limit)
			}
			if src.n > tc.limit+1 {
				t.Fatalf("read %d bytes for a limit of %d", src.n, tc.limit)
			}
		})
	}
}

func TestCleanPassesIOErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("connection reset")
	jpg, _ := jpegWithMetadata(t, pattern(8, 8))
	_, err := media.Clean(io.Discard, io.MultiReader(bytes.NewReader(jpg[:100]), iotest.ErrReader(boom)), media.Limits{})
	var re *media.RefusedError
	if !errors.Is(err, boom) || errors.As(err, &re) {
		t.Fatalf("read error: %v, want the reader's error, not a refusal", err)
	}
	_, err = media.Clean(failingWriter{boom}, bytes.NewReader(jpg), media.Limits{})
	if !errors.Is(err, boom) || errors.As(err, &re) {
		t.Fatalf("write error: %v, want the writer's error", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestSkipDecode(t *testing.T) {
	t.Parallel()
	broken := jpegWithoutDHT(encodeJPEG(t, pattern(16, 16), 80))
	if _, _, err := clean(t, broken, media.Limits{}); !errors.Is(err, media.ErrCorrupt) {
		t.Fatalf("decoded: %v, want ErrCorrupt", err)
	}
	if _, info, err := clean(t, broken, media.Limits{SkipDecode: true}); err != nil || info.Width != 16 {
		t.Fatalf("with SkipDecode: %v %+v, want the structure accepted", err, info)
	}
	if _, _, err := clean(t, pngBomb(100000, 100000), media.Limits{SkipDecode: true}); !errors.Is(err, media.ErrTooManyPixels) {
		t.Fatalf("SkipDecode still bounds the pixels: %v", err)
	}
}

func TestRefusedErrorMessages(t *testing.T) {
	t.Parallel()
	_, _, err := clean(t, []byte("hello"), media.Limits{})
	if got := err.Error(); !strings.HasPrefix(got, "media: the file is not a photo") || !strings.Contains(got, "send a photo or a video") {
		t.Fatalf("message %q", got)
	}
	jpg := encodeJPEG(t, pattern(8, 8), 90)
	_, _, err = clean(t, jpg, media.Limits{MaxPhotoBytes: 100})
	if got := err.Error(); !strings.Contains(got, "the photo is larger than 100 bytes: send a smaller one") {
		t.Fatalf("message %q", got)
	}
}

// pngBomb is a valid PNG structure whose header claims w×h pixels, with a
// tiny IDAT.
func pngBomb(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	return cat([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr), pngChunk("IDAT", zlibBytes(make([]byte, 64))), pngChunk("IEND", nil))
}

// jpegSegments calls fn for each marker segment before the first scan,
// with its offset and length.
func jpegSegments(jpg []byte, fn func(marker byte, at, n int)) {
	for pos := 2; pos+4 <= len(jpg) && jpg[pos] == 0xFF; {
		m := jpg[pos+1]
		n := 2 + int(binary.BigEndian.Uint16(jpg[pos+2:]))
		fn(m, pos, n)
		if m == 0xDA {
			return
		}
		pos += n
	}
}

// jpegResized is jpg with its frame header claiming w×h.
func jpegResized(t *testing.T, jpg []byte, w, h uint16) []byte {
	out := bytes.Clone(jpg)
	found := false
	jpegSegments(out, func(m byte, at, _ int) {
		if m == 0xC0 {
			binary.BigEndian.PutUint16(out[at+5:], h)
			binary.BigEndian.PutUint16(out[at+7:], w)
			found = true
		}
	})
	if !found {
		t.Fatal("no SOF0 segment")
	}
	return out
}

// manyScans is testdata's progressive JPEG with its last scan repeated
// until it has n scans or more.
func manyScans(t *testing.T, n int) []byte {
	orig := readTestdata(t, "progressive-40x30.jpg")
	last := bytes.LastIndex(orig, []byte{0xFF, 0xDA})
	scan := orig[last : len(orig)-2]
	return cat(orig[:len(orig)-2], bytes.Repeat(scan, n), []byte{0xFF, 0xD9})
}

// jpegWithoutDHT is jpg without its Huffman tables: well formed, but its
// scan cannot be decoded.
func jpegWithoutDHT(jpg []byte) []byte {
	var cut [][2]int
	jpegSegments(jpg, func(m byte, at, n int) {
		if m == 0xC4 {
			cut = append(cut, [2]int{at, at + n})
		}
	})
	out := bytes.Clone(jpg)
	for i := len(cut) - 1; i >= 0; i-- {
		out = append(out[:cut[i][0]], out[cut[i][1]:]...)
	}
	return out
}
