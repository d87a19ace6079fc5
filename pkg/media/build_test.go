package media_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"testing"
)

// The builders below make the test files by hand, each with the metadata
// that Clean must remove and the parts it must keep, and return both the
// upload and the bytes Clean should write.

// gpsNeedles are byte strings that must not survive cleaning.
var gpsNeedles = []string{
	"Exif\x00\x00", "GPS", "\xa9xyz", "http://ns.adobe.com/xap/1.0/", "ISO6709", "+37.7749", "Photoshop 3.0",
	"shot at home", "LOCATION", "motion-photo-trailer",
}

func pattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) * 4), 255})
		}
	}
	return m
}

func encodeJPEG(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// segment is a JPEG marker segment.
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// tiffGPS is a big-endian TIFF structure as EXIF holds it: IFD0 with the
// orientation, a camera make and a pointer to a GPS IFD with a latitude.
func tiffGPS(orientation uint16) []byte {
	be := binary.BigEndian
	t := []byte("MM\x00\x2a\x00\x00\x00\x08")
	// IFD0 at 8: 3 entries, then the next-IFD offset 0.
	ifd0 := make([]byte, 2+3*12+4)
	be.PutUint16(ifd0, 3)
	entry := func(b []byte, i int, tag, typ uint16, count, value uint32) {
		e := b[2+12*i:]
		be.PutUint16(e, tag)
		be.PutUint16(e[2:], typ)
		be.PutUint32(e[4:], count)
		be.PutUint32(e[8:], value)
	}
	makeAt := uint32(8 + len(ifd0))
	makeStr := []byte("HomeCam GPS edition\x00")
	gpsAt := makeAt + uint32(len(makeStr))
	entry(ifd0, 0, 0x010F, 2, uint32(len(makeStr)), makeAt)
	entry(ifd0, 1, 0x0112, 3, 1, uint32(orientation)<<16)
	entry(ifd0, 2, 0x8825, 4, 1, gpsAt)
	gps := make([]byte, 2+2*12+4)
	be.PutUint16(gps, 2)
	latAt := gpsAt + uint32(len(gps))
	entry(gps, 0, 0x0001, 2, 2, uint32('N')<<24)
	entry(gps, 1, 0x0002, 5, 3, latAt)
	lat := make([]byte, 24)
	for i, v := range []uint32{37, 1, 46, 1, 2964, 100} {
		be.PutUint32(lat[4*i:], v)
	}
	return cat(t, ifd0, makeStr, gps, lat)
}

const xmpPacket = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
	`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" ` +
	`exif:GPSLatitude="37,46.2964N" exif:GPSLongitude="122,25.164W"/></rdf:RDF></x:xmpmeta>`

// jpegWithMetadata returns a JPEG of m carrying EXIF (GPS, orientation 6),
// XMP, IPTC, an MPF index, comments, an unknown APPn segment and a trailer,
// next to the segments that must be kept (JFIF, ICC profile, Adobe), and the
// JPEG Clean should make of it.
func jpegWithMetadata(t testing.TB, m image.Image) (upload, want []byte) {
	enc := encodeJPEG(t, m, 90)
	jfif := segment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))
	icc := segment(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), bytes.Repeat([]byte{0x42}, 64)...))
	adobe := segment(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))
	exif := segment(0xE1, append([]byte("Exif\x00\x00"), tiffGPS(6)...))
	xmp := segment(0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00"+xmpPacket))
	iptc := segment(0xED, []byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0a\x1c\x02\x5a\x00\x04Home"))
	mpf := segment(0xE2, []byte("MPF\x00MM\x00\x2a\x00\x00\x00\x08"))
	com := segment(0xFE, []byte("shot at home, GPS 37.7749"))
	app9 := segment(0xE9, []byte("vendor data GPS"))
	trailer := []byte("motion-photo-trailer GPS ftypmp42")
	upload = cat(enc[:2], jfif, exif, icc, xmp, mpf, iptc, adobe, com, app9, enc[2:], trailer)
	want = cat(enc[:2], jfif, icc, adobe, enc[2:])
	return upload, want
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cjpegWithMetadata returns a JPEG of testdata made by libjpeg's cjpeg
// (JFIF; progressive: several scans with DHT segments between them;
// restart: RSTn markers in the scan) with EXIF and a comment after its
// JFIF segment, and the original file, which is what Clean should make.
func cjpegWithMetadata(t testing.TB, name string) (upload, want []byte) {
	orig := readTestdata(t, name)
	jfifEnd := 4 + int(binary.BigEndian.Uint16(orig[4:]))
	exif := segment(0xE1, append([]byte("Exif\x00\x00"), tiffGPS(3)...))
	com := segment(0xFE, []byte("shot at home"))
	return cat(orig[:jfifEnd], exif, com, orig[jfifEnd:]), orig
}

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := make([]byte, 8, 12+len(data))
	binary.BigEndian.PutUint32(c, uint32(len(data)))
	copy(c[4:], typ)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	_, _ = w.Write(b)
	_ = w.Close()
	return z.Bytes()
}

// pngWithMetadata returns a PNG of m carrying eXIf, tEXt, zTXt, iTXt, tIME
// and a private chunk next to gAMA and pHYs, and the PNG Clean should make.
func pngWithMetadata(t testing.TB, m image.Image) (upload, want []byte) {
	enc := encodePNG(t, m)
	const ihdrEnd = 8 + 12 + 13
	gama := pngChunk("gAMA", []byte{0, 0, 0xB1, 0x8F})
	phys := pngChunk("pHYs", []byte{0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1})
	exif := pngChunk("eXIf", append([]byte("Exif\x00\x00"), tiffGPS(8)...))
	text := pngChunk("tEXt", []byte("Comment\x00shot at home, GPS 37.7749"))
	ztxt := pngChunk("zTXt", append([]byte("Location\x00\x00"), zlibBytes([]byte("+37.7749-122.4194"))...))
	itxt := pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+xmpPacket))
	tm := pngChunk("tIME", []byte{0x07, 0xE9, 6, 1, 12, 0, 0})
	private := pngChunk("prVt", []byte("GPS from a vendor"))
	trailer := []byte("motion-photo-trailer")
	upload = cat(enc[:ihdrEnd], gama, exif, text, phys, ztxt, itxt, tm, private, enc[ihdrEnd:], trailer)
	want = cat(enc[:ihdrEnd], gama, phys, enc[ihdrEnd:])
	return upload, want
}

// riffChunk is a RIFF chunk, padded to an even length.
func riffChunk(fourcc string, data []byte) []byte {
	c := make([]byte, 8, 9+len(data))
	copy(c, fourcc)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(data)))
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

func riff(chunks ...[]byte) []byte {
	body := cat(append([][]byte{[]byte("WEBP")}, chunks...)...)
	h := []byte("RIFF\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(h[4:], uint32(len(body)))
	return append(h, body...)
}

func vp8x(flags byte, w, h int) []byte {
	d := make([]byte, 10)
	d[0] = flags
	d[4], d[5], d[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	d[7], d[8], d[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return riffChunk("VP8X", d)
}

// webpImageChunk returns the image chunk (VP8L or VP8) of a simple WebP in
// testdata.
func webpImageChunk(t testing.TB, file string) []byte {
	b := readTestdata(t, file)
	if string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		t.Fatalf("%s is not a WebP file", file)
	}
	return b[12:]
}

// webpWithMetadata returns an extended WebP around a testdata image with
// EXIF, XMP and an unknown chunk, and the WebP Clean should make.
func webpWithMetadata(t testing.TB, file string) (upload, want []byte) {
	img := webpImageChunk(t, file)
	const w, h = 16, 12
	exif := riffChunk("EXIF", tiffGPS(5))
	xmp := riffChunk("XMP ", []byte(xmpPacket))
	unknown := riffChunk("ZZZZ", []byte("GPS"))
	upload = riff(vp8x(0x08|0x04, w, h), img, exif, xmp, unknown)
	want = riff(vp8x(0, w, h), img)
	return upload, want
}

// mp4Box is an ISO BMFF box.
func mp4Box(typ string, payload ...[]byte) []byte {
	p := cat(payload...)
	b := make([]byte, 8, 8+len(p))
	binary.BigEndian.PutUint32(b, uint32(8+len(p)))
	copy(b[4:], typ)
	return append(b, p...)
}

// freed is box b as Clean leaves a udta or meta box: a free box of the
// same size, its payload zeroed.
func freed(b []byte) []byte {
	f := make([]byte, len(b))
	copy(f, b[:4])
	copy(f[4:], "free")
	return f
}

func fullBox(version byte, rest ...[]byte) []byte {
	return cat(append([][]byte{{version, 0, 0, 0}}, rest...)...)
}

func tkhd(w, h int) []byte {
	p := make([]byte, 84)
	binary.BigEndian.PutUint32(p[76:], uint32(w)<<16)
	binary.BigEndian.PutUint32(p[80:], uint32(h)<<16)
	return mp4Box("tkhd", p)
}

func hdlr(handler string) []byte {
	return mp4Box("hdlr", fullBox(0, make([]byte, 4), []byte(handler), make([]byte, 12), []byte("Handler\x00")))
}

// mp4WithMetadata returns an MP4 (or, with brand "qt  ", a QuickTime file)
// with a video track whose udta holds a "©xyz" location, a moov udta and
// an Apple-style moov meta with a location key, and a top-level XMP uuid
// box, and the file Clean should make. handler is the track's handler
// ("vide" for video).
func mp4WithMetadata(brand, handler string) (upload, want []byte) {
	ftyp := mp4Box("ftyp", []byte(brand), []byte{0, 0, 2, 0}, []byte(brand+"isommp41"))
	xyz := mp4Box("\xa9xyz", []byte{0, 18, 0x15, 0xC7}, []byte("+37.7749-122.4194/"))
	trakUdta := mp4Box("udta", xyz)
	moovUdta := mp4Box("udta", xyz, mp4Box("\xa9mak", []byte("HomeCam")))
	meta := mp4Box("meta", hdlr("mdta"),
		mp4Box("keys", fullBox(0, []byte{0, 0, 0, 1}, mp4Box("mdta", []byte("com.apple.quicktime.location.ISO6709")))),
		mp4Box("ilst", mp4Box("\x00\x00\x00\x01", mp4Box("data", []byte{0, 0, 0, 1, 0, 0, 0, 0}, []byte("+37.7749-122.4194+010.000/")))))
	xmp := mp4Box("uuid", []byte("\xBE\x7A\xCF\xCB\x97\xA9\x42\xE8\x9C\x71\x99\x94\x91\xE3\xAF\xAC"), []byte(xmpPacket))
	media := []byte("fake video samples: 0123456789abcdef")
	build := func(clean bool) []byte {
		pick := func(b []byte) []byte {
			if clean {
				return freed(b)
			}
			return b
		}
		stbl := func(mdatAt int) []byte {
			return mp4Box("stbl", mp4Box("stco", fullBox(0, []byte{0, 0, 0, 1}, binary.BigEndian.AppendUint32(nil, uint32(mdatAt)))))
		}
		trak := func(mdatAt int) []byte {
			return mp4Box("trak", tkhd(320, 240), pick(trakUdta),
				mp4Box("mdia", mp4Box("mdhd", fullBox(0, make([]byte, 20))), hdlr(handler),
					mp4Box("minf", mp4Box("vmhd", fullBox(0, make([]byte, 8))), stbl(mdatAt))))
		}
		moov := func(mdatAt int) []byte {
			return mp4Box("moov", mp4Box("mvhd", fullBox(0, make([]byte, 96))), trak(mdatAt), pick(moovUdta), pick(meta))
		}
		// The chunk offset points into mdat, after ftyp, moov and the uuid box.
		at := len(ftyp) + len(moov(0)) + len(xmp) + 8
		return cat(ftyp, moov(at), pick(xmp), mp4Box("mdat", media))
	}
	return build(false), build(true)
}

// mp4BoxSizes rewrites the two MP4 files' last box (mdat) with a 64-bit
// size, then adds a last box of size 0 ("to the end of the file").
func mp4BoxSizes(upload, want []byte) ([]byte, []byte) {
	rewrite := func(f []byte) []byte {
		ftyp := int(binary.BigEndian.Uint32(f))
		moov := int(binary.BigEndian.Uint32(f[ftyp:]))
		uuid := int(binary.BigEndian.Uint32(f[ftyp+moov:]))
		at := ftyp + moov + uuid
		mdat := f[at+8:]
		large := binary.BigEndian.AppendUint64([]byte("\x00\x00\x00\x01mdat"), uint64(16+len(mdat)))
		return cat(f[:at], large, mdat, []byte("\x00\x00\x00\x00free"), []byte("padding to the end"))
	}
	return rewrite(upload), rewrite(want)
}

// ebml is an EBML element with a minimal size; size -1 writes "unknown".
func ebml(id uint32, payload ...[]byte) []byte {
	return ebmlSized(id, int64(len(cat(payload...))), payload...)
}

func ebmlSized(id uint32, size int64, payload ...[]byte) []byte {
	var b []byte
	for s := 24; s >= 0; s -= 8 {
		if c := byte(id >> s); c != 0 || len(b) > 0 {
			b = append(b, c)
		}
	}
	if size < 0 {
		b = append(b, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	} else {
		n := 1
		for size >= 1<<(7*n)-1 {
			n++
		}
		v := uint64(size) | 1<<(7*n)
		for i := n - 1; i >= 0; i-- {
			b = append(b, byte(v>>(8*i)))
		}
	}
	return append(b, cat(payload...)...)
}

func ebmlUint(id uint32, v uint64) []byte {
	var p []byte
	for s := 56; s >= 0; s -= 8 {
		if c := byte(v >> s); c != 0 || len(p) > 0 || s == 0 {
			p = append(p, c)
		}
	}
	return ebml(id, p)
}

// webmWithMetadata returns a WebM with Tags (a location) and Attachments,
// and the file Clean should make; live writes the Segment and Cluster with
// unknown sizes, as browsers' recorders do. trackType is 1 for video.
func webmWithMetadata(docType string, trackType uint64, live bool) (upload, want []byte) {
	header := ebml(0x1A45DFA3, ebmlUint(0x4286, 1), ebmlUint(0x42F7, 1), ebml(0x4282, []byte(docType)), ebmlUint(0x4287, 4), ebmlUint(0x4285, 2))
	info := ebml(0x1549A966, ebmlUint(0x2AD7B1, 1_000_000), ebml(0x4D80, []byte("whistle-test")), ebml(0x5741, []byte("whistle-test")))
	tracks := ebml(0x1654AE6B, ebml(0xAE, ebmlUint(0xD7, 1), ebmlUint(0x73C5, 1), ebmlUint(0x83, trackType),
		ebml(0x86, []byte("V_VP8")), ebml(0xE0, ebmlUint(0xB0, 320), ebmlUint(0xBA, 240))))
	clusterBody := cat(ebmlUint(0xE7, 0), ebml(0xA3, []byte{0x81, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8}))
	cluster := ebml(0x1F43B675, clusterBody)
	if live {
		cluster = ebmlSized(0x1F43B675, -1, clusterBody)
	}
	tags := ebml(0x1254C367, ebml(0x7373, ebml(0x67C8, ebml(0x45A3, []byte("LOCATION")), ebml(0x4487, []byte("+37.7749-122.4194/")))))
	attachments := ebml(0x1941A469, ebml(0x61A7, ebml(0x466E, []byte("cover.jpg")), ebml(0x465C, []byte("Exif\x00\x00 GPS"))))
	build := func(tags, attachments []byte) []byte {
		body := cat(info, tracks, tags, cluster, attachments)
		if live {
			return cat(header, ebmlSized(0x18538067, -1, body))
		}
		return cat(header, ebml(0x18538067, body))
	}
	return build(tags, attachments), build(voided(tags), voided(attachments))
}

// voided is element e (4-byte ID) as Clean leaves it: a Void element of
// the same length, whose size takes as many bytes as e's header less one
// (at most 8), then zeros.
func voided(e []byte) []byte {
	sizeLen := 1
	for e[4]&(0x80>>(sizeLen-1)) == 0 {
		sizeLen++
	}
	m := min(4+sizeLen-1, 8)
	v := make([]byte, len(e))
	v[0] = 0xEC
	size := uint64(len(e) - 1 - m)
	for i := m; i >= 1; i-- {
		v[i] = byte(size)
		size >>= 8
	}
	v[1] |= 0x80 >> (m - 1)
	return v
}

// noiseJPEG is a JPEG of random pixels, about size bytes, with EXIF.
func noiseJPEG(t testing.TB, size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	w := 800
	for {
		h := w * 3 / 4
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = uint8(r.UintN(256))
		}
		enc := encodeJPEG(t, m, 85)
		if len(enc) >= size {
			return cat(enc[:2], segment(0xE1, append([]byte("Exif\x00\x00"), tiffGPS(1)...)), enc[2:])
		}
		w += w / 4
	}
}
