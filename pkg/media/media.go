// Package media decides what an uploaded file really is and returns the
// bytes worth keeping: a resident's snapshot photo, a department's
// before/after evidence, a short video.
//
// Clean reads the upload, tells its type from its first bytes (never from
// the client's file name or Content-Type), refuses anything that is not a
// JPEG, PNG or WebP photo or an MP4, QuickTime or WebM video, bounds its
// size and its pixel count, checks its structure, and writes a copy with
// its metadata removed.
//
// # Why metadata is stripped
//
// A phone photo's EXIF block holds the GPS position it was taken at, the
// time, and the phone's make, model and serial numbers; videos carry the
// same in their user-data boxes. A report's location is its own field,
// chosen by the resident (and shown to the departments that handle it); the
// position inside a photo is often the resident's home, where it was taken
// or edited, and would travel with the photo to everyone who can see the
// ticket. So Clean removes every block that carries such data, and keeps
// everything needed to show the picture as it was taken.
//
// # What is kept and what is removed
//
// Nothing is re-encoded: the compressed pixels are copied byte for byte, so
// quality is not lost and the cleaned file decodes to exactly the same
// pixels as the upload. A photo's EXIF orientation is read before its EXIF
// block goes and reported in Info.Orientation, so that whoever shows the
// photo can still turn it upright.
//
//   - JPEG: APP1 (Exif, XMP), APP13 (IPTC, Photoshop), COM (comments) and
//     APP2 to APP15 are removed, except APP2 ICC_PROFILE and APP14 Adobe,
//     which say how to read the colours. APP0 (JFIF), the tables, the frame
//     and the scans are kept. Anything after the end-of-image marker (a
//     second image, a "motion photo" video) is removed.
//   - PNG: the eXIf, tEXt, zTXt, iTXt and tIME chunks are removed, and so
//     are ancillary chunks this package does not know (private chunks may
//     carry anything); the critical chunks and the known ancillary ones
//     (colour, transparency, physical size, animation) are kept. Bytes after
//     IEND are removed.
//   - WebP: the EXIF and XMP chunks are removed, their flags in the VP8X
//     header cleared and the RIFF size fixed; chunks the WebP format does
//     not define are removed too. The image data, ICC profile and alpha are
//     kept. Animated WebP is refused (the decoder used cannot check it).
//   - MP4 and QuickTime: every udta and meta box (GPS "©xyz", Apple's
//     location and device keys, make and model, 3GPP "loci") and the XMP
//     uuid box become "free" boxes of the same size with their payload
//     zeroed, so no chunk offset moves and the video plays as before. The
//     file must have a video track. Timed-metadata tracks (a GoPro's GPMF
//     telemetry, for one) are kept as they are: their samples live in the
//     media data.
//   - WebM: Tags and Attachments elements become Void elements of the same
//     size with their payload zeroed. The segment Info (muxing and writing
//     application, date) and the tracks are kept. The file must have a
//     video track. Matroska files other than WebM are refused.
//
// # Resources
//
// Clean holds the whole upload in memory, at most the limit of its kind
// (10 MiB for a photo and 50 MiB for a video by default), and reads at
// most that limit plus one byte from the reader. Photos are then decoded
// once to prove their pixels are readable, after their dimensions were
// read from the header and checked against Limits.MaxPixels: decoding
// takes up to about 8 bytes per pixel (320 MB at 40 megapixels for a
// 16-bit PNG, about a fifth of that for a JPEG). Limit how many uploads are
// cleaned at once accordingly. A JPEG with more than 256 scans is refused
// before decoding, since each scan costs a pass over the whole image.
//
// The decoders are the standard library's and golang.org/x/image/webp: a
// photo they cannot read is refused, even when other software shows it. One
// such case is a progressive JPEG with restart markers, which image/jpeg
// reports as damaged; Limits.SkipDecode accepts it (its structure is still
// checked).
package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"golang.org/x/image/webp"
)

// Kind is what an accepted file is: KindPhoto or KindVideo.
type Kind string

// The kinds of file Clean accepts.
const (
	KindPhoto Kind = "photo"
	KindVideo Kind = "video"
)

// The content types Clean gives in Info.ContentType.
const (
	TypeJPEG      = "image/jpeg"
	TypePNG       = "image/png"
	TypeWebP      = "image/webp"
	TypeMP4       = "video/mp4"
	TypeQuickTime = "video/quicktime"
	TypeWebM      = "video/webm"
)

// Default limits.
const (
	DefaultMaxPhotoBytes = 10 << 20
	DefaultMaxVideoBytes = 50 << 20
	DefaultMaxPixels     = 40_000_000
	maxBytes             = 1 << 30
)

// Limits bounds what Clean accepts. A zero field takes its default. Byte
// limits above 1 GiB are lowered to 1 GiB: Clean holds the file in memory.
type Limits struct {
	// MaxPhotoBytes is the largest photo accepted, in bytes. Default 10 MiB.
	MaxPhotoBytes int64
	// MaxVideoBytes is the largest video accepted, in bytes. Default 50 MiB.
	MaxVideoBytes int64
	// MaxPixels bounds a photo's width × height, checked from its header
	// before it is decoded. Default 40,000,000 (40 megapixels: a 7,300 ×
	// 5,500 photo; phones take 12 to 50).
	MaxPixels int64
	// SkipDecode leaves out the full decode of photos: their structure
	// (segments, chunks and their CRCs) and dimensions are still checked,
	// but not the compressed pixels. Default false: photos are decoded
	// once, which costs most of Clean's time and memory.
	SkipDecode bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxPhotoBytes <= 0 {
		l.MaxPhotoBytes = DefaultMaxPhotoBytes
	}
	if l.MaxVideoBytes <= 0 {
		l.MaxVideoBytes = DefaultMaxVideoBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	l.MaxPhotoBytes = min(l.MaxPhotoBytes, maxBytes)
	l.MaxVideoBytes = min(l.MaxVideoBytes, maxBytes)
	return l
}

// Info describes the cleaned file that Clean wrote.
type Info struct {
	// ContentType is the type read from the bytes: one of the Type
	// constants. Store and serve the file with it, never with the client's.
	ContentType string
	// Kind is KindPhoto or KindVideo.
	Kind Kind
	// Size is the length of the cleaned file in bytes.
	Size int64
	// SHA256 is the lower-case hex SHA-256 of the cleaned file.
	SHA256 string
	// Width and Height are the photo's dimensions in pixels, or the video
	// track's display size; 0 when the file does not say.
	Width, Height int
	// Orientation is a photo's EXIF orientation (1 to 8: 1 is upright, 6
	// needs a quarter turn clockwise, 8 anticlockwise, 3 a half turn; 2, 4,
	// 5 and 7 are mirrored), read before the EXIF block was removed, so
	// that whoever shows the photo can turn it. 0 when the file had none.
	Orientation int
	// Stripped names what was removed, in the order found, each once: e.g.
	// "exif", "xmp", "iptc", "comment", "app3", "trailer" (JPEG); "eXIf",
	// "tEXt", "zTXt", "iTXt", "tIME", "ancillary:orNT" (PNG); "exif",
	// "xmp", "chunk:ABCD" (WebP); "udta", "meta", "xmp" (MP4); "Tags",
	// "Attachments" (WebM). Empty when nothing was removed.
	Stripped []string
}

// Reasons of a RefusedError.
const (
	ReasonTooLarge        = "too_large"
	ReasonUnsupportedType = "unsupported_type"
	ReasonTooManyPixels   = "too_many_pixels"
	ReasonCorrupt         = "corrupt"
)

// Sentinels that a *RefusedError matches (errors.Is) by its Reason.
var (
	// ErrTooLarge: the file is larger than its kind's limit.
	ErrTooLarge = errors.New("media: file too large")
	// ErrUnsupportedType: the bytes are not a photo or video of a type
	// Clean accepts.
	ErrUnsupportedType = errors.New("media: unsupported file type")
	// ErrTooManyPixels: the image's width × height is over
	// Limits.MaxPixels.
	ErrTooManyPixels = errors.New("media: image has too many pixels")
	// ErrCorrupt: the file's structure is broken or incomplete (a truncated
	// upload, a damaged file).
	ErrCorrupt = errors.New("media: file is damaged or incomplete")
)

// RefusedError is the error Clean returns for a file it will not keep.
// Every other error of Clean comes from reading src or writing dst.
//
// At a gRPC edge, map a RefusedError with LimitExceeded to
// codes.ResourceExhausted and any other to codes.InvalidArgument, with
// Message as the status message and Reason as the ErrorInfo reason; map
// Clean's other errors as I/O errors (Unavailable, Internal).
type RefusedError struct {
	// Reason is one of the Reason constants, stable for programs.
	Reason string
	// Message says, for the person who sent the file, what is wrong and
	// what to do, e.g. "the photo is larger than 10 MiB: send a smaller
	// one (a lower resolution or quality)".
	Message string
	// Limit is the limit that was exceeded (bytes for too_large, pixels
	// for too_many_pixels), else 0.
	Limit int64
}

// Error returns "media: " and the Message.
func (e *RefusedError) Error() string { return "media: " + e.Message }

// Is matches the sentinel of e's Reason.
func (e *RefusedError) Is(target error) bool {
	switch e.Reason {
	case ReasonTooLarge:
		return target == ErrTooLarge
	case ReasonUnsupportedType:
		return target == ErrUnsupportedType
	case ReasonTooManyPixels:
		return target == ErrTooManyPixels
	case ReasonCorrupt:
		return target == ErrCorrupt
	}
	return false
}

// LimitExceeded reports whether the file was refused for a limit (too
// large, too many pixels) rather than for what it is.
func (e *RefusedError) LimitExceeded() bool {
	return e.Reason == ReasonTooLarge || e.Reason == ReasonTooManyPixels
}

func refuse(reason, format string, args ...any) *RefusedError {
	return &RefusedError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func corrupt(kind, format string, args ...any) *RefusedError {
	return refuse(ReasonCorrupt, "the %s file is damaged or incomplete (%s): send it again, or another file", kind, fmt.Sprintf(format, args...))
}

// format is a file type Clean accepts.
type format struct {
	name        string // for messages: "JPEG"
	contentType string
	kind        Kind
}

var (
	fmtJPEG = format{"JPEG", TypeJPEG, KindPhoto}
	fmtPNG  = format{"PNG", TypePNG, KindPhoto}
	fmtWebP = format{"WebP", TypeWebP, KindPhoto}
	fmtMP4  = format{"MP4", TypeMP4, KindVideo}
	fmtWebM = format{"WebM", TypeWebM, KindVideo}
)

const sniffLen = 16

// sniff tells the format from a file's first bytes.
func sniff(h []byte) (format, bool) {
	switch {
	case len(h) >= 3 && h[0] == 0xFF && h[1] == 0xD8 && h[2] == 0xFF:
		return fmtJPEG, true
	case bytes.HasPrefix(h, []byte(pngSignature)):
		return fmtPNG, true
	case len(h) >= 12 && string(h[:4]) == "RIFF" && string(h[8:12]) == "WEBP":
		return fmtWebP, true
	case len(h) >= 12 && string(h[4:8]) == "ftyp":
		return fmtMP4, true
	case bytes.HasPrefix(h, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return fmtWebM, true
	}
	return format{}, false
}

// describe names what a refused file looks like, for the message.
func describe(h []byte) string {
	t := bytes.TrimLeft(bytes.TrimPrefix(h, []byte("\xEF\xBB\xBF")), " \t\r\n")
	switch {
	case len(h) == 0:
		return "it is empty"
	case bytes.HasPrefix(h, []byte("GIF8")):
		return "it is a GIF image"
	case bytes.HasPrefix(h, []byte("BM")):
		return "it looks like a BMP image"
	case bytes.HasPrefix(h, []byte("II*\x00")) || bytes.HasPrefix(h, []byte("MM\x00*")):
		return "it is a TIFF image (or a camera's raw file)"
	case bytes.HasPrefix(h, []byte("%PDF")):
		return "it is a PDF document"
	case bytes.HasPrefix(h, []byte("PK\x03\x04")):
		return "it is a ZIP archive (or an office document)"
	case len(h) >= 12 && string(h[:4]) == "RIFF":
		return fmt.Sprintf("it is a RIFF %q file", h[8:12])
	case len(t) > 0 && t[0] == '<':
		return "it is markup (HTML, SVG or XML)"
	case isText(h):
		return "it is text"
	}
	return "its type is not recognised"
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F {
			return false
		}
	}
	return true
}

// cleaner collects what a format's cleaning found.
type cleaner struct {
	stripped    []string
	width       int
	height      int
	orientation int
	// contentType overrides the format's (QuickTime).
	contentType string
}

func (c *cleaner) strip(name string) {
	for _, s := range c.stripped {
		if s == name {
			return
		}
	}
	c.stripped = append(c.stripped, name)
}

// Clean reads one uploaded file from src, checks it and writes its cleaned
// copy to dst (see the package documentation for what is removed).
//
// The file is refused with a *RefusedError (matching ErrTooLarge,
// ErrUnsupportedType, ErrTooManyPixels or ErrCorrupt) when its first bytes
// are not those of an accepted type, when it is larger than its kind's
// limit (Clean stops reading at the limit plus one byte), when a photo's
// header gives more than l.MaxPixels pixels (checked before any decoding),
// or when its structure or pixels do not decode. A refused file writes
// nothing to dst. Errors reading src or writing dst are returned as they
// are, wrapped; after a write error dst may hold part of the file.
func Clean(dst io.Writer, src io.Reader, l Limits) (Info, error) {
	l = l.withDefaults()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(src, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return Info{}, fmt.Errorf("media: read the upload: %w", err)
	}
	head = head[:n]
	f, ok := sniff(head)
	if !ok {
		return Info{}, refuse(ReasonUnsupportedType, "the file is not a photo (JPEG, PNG, WebP) or a video (MP4, QuickTime, WebM): %s; "+
			"send a photo or a video of one of these types", describe(head))
	}
	limit := l.MaxPhotoBytes
	if f.kind == KindVideo {
		limit = l.MaxVideoBytes
	}
	var buf bytes.Buffer
	buf.Write(head)
	if _, err := buf.ReadFrom(io.LimitReader(src, limit+1-int64(n))); err != nil {
		return Info{}, fmt.Errorf("media: read the upload: %w", err)
	}
	if int64(buf.Len()) > limit {
		e := refuse(ReasonTooLarge, "the %s is larger than %s: send a smaller one (%s)", f.kind, formatBytes(limit), smallerHint(f.kind))
		e.Limit = limit
		return Info{}, e
	}
	data := buf.Bytes()
	c := &cleaner{}
	var out []byte
	switch f {
	case fmtJPEG:
		out, err = cleanJPEG(data, c)
	case fmtPNG:
		out, err = cleanPNG(data, c)
	case fmtWebP:
		out, err = cleanWebP(data, c)
	case fmtMP4:
		out, err = cleanMP4(data, c)
	case fmtWebM:
		out, err = cleanWebM(data, c)
	}
	if err != nil {
		return Info{}, err
	}
	if f.kind == KindPhoto {
		if err := checkPixels(f, out, c, l); err != nil {
			return Info{}, err
		}
	}
	sum := sha256.Sum256(out)
	info := Info{
		ContentType: f.contentType,
		Kind:        f.kind,
		Size:        int64(len(out)),
		SHA256:      hex.EncodeToString(sum[:]),
		Width:       c.width,
		Height:      c.height,
		Orientation: c.orientation,
		Stripped:    c.stripped,
	}
	if c.contentType != "" {
		info.ContentType = c.contentType
	}
	if _, err := dst.Write(out); err != nil {
		return Info{}, fmt.Errorf("media: write the cleaned file: %w", err)
	}
	return info, nil
}

func smallerHint(k Kind) string {
	if k == KindVideo {
		return "a shorter clip, or a lower resolution"
	}
	return "a lower resolution or quality"
}

// checkPixels reads a cleaned photo's dimensions from its header, bounds
// them, and then decodes it unless l.SkipDecode.
func checkPixels(f format, out []byte, c *cleaner, l Limits) error {
	var cfg image.Config
	var err error
	switch f {
	case fmtJPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(out))
	case fmtPNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(out))
	case fmtWebP:
		cfg, err = webp.DecodeConfig(bytes.NewReader(out))
	}
	if err != nil {
		return decodeRefusal(f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return corrupt(f.name, "its header gives a %d×%d image", cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > l.MaxPixels {
		e := refuse(ReasonTooManyPixels, "the image is %d×%d pixels (%.1f megapixels), more than the %.1f megapixels allowed: send a smaller image",
			cfg.Width, cfg.Height, float64(px)/1e6, float64(l.MaxPixels)/1e6)
		e.Limit = l.MaxPixels
		return e
	}
	c.width, c.height = cfg.Width, cfg.Height
	if l.SkipDecode {
		return nil
	}
	var m image.Image
	switch f {
	case fmtJPEG:
		m, err = jpeg.Decode(bytes.NewReader(out))
	case fmtPNG:
		m, err = png.Decode(bytes.NewReader(out))
	case fmtWebP:
		m, err = webp.Decode(bytes.NewReader(out))
	}
	if err != nil {
		return decodeRefusal(f, err)
	}
	if b := m.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return corrupt(f.name, "its header says %d×%d but its pixels are %d×%d", cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return nil
}

func decodeRefusal(f format, err error) error {
	var ju jpeg.UnsupportedError
	var pu png.UnsupportedError
	if errors.As(err, &ju) || errors.As(err, &pu) {
		return refuse(ReasonUnsupportedType, "this %s variant cannot be read here (%v): save the image again as a standard %s and send that",
			f.name, err, f.name)
	}
	msg := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(err.Error(), "jpeg: "), "png: "), "webp: ")
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		msg = "it ends too soon"
	}
	return corrupt(f.name, "its pixels do not decode: %s", msg)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
