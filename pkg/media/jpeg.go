package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// maxScans bounds the scans of a progressive JPEG: cameras and encoders
// write at most a few dozen, while each scan makes the decoder go over the
// whole image again.
const maxScans = 256

// JPEG markers.
const (
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mAPP0 = 0xE0
	mAPP1 = 0xE1
	mAPP2 = 0xE2
	mAP13 = 0xED
	mAP14 = 0xEE
	mAP15 = 0xEF
	mCOM  = 0xFE
)

// cleanJPEG removes the metadata segments of a JPEG in place and returns
// the kept bytes: data's start, shortened.
func cleanJPEG(data []byte, c *cleaner) ([]byte, error) {
	const name = "JPEG"
	w := 2 // SOI stays
	keep := func(from, to int) { w += copy(data[w:], data[from:to]) }
	pos := 2
	scans := 0
	for {
		if pos >= len(data) {
			return nil, corrupt(name, "it ends before its end-of-image marker")
		}
		if data[pos] != 0xFF {
			// Bytes between segments: decoders skip them, and so does Clean.
			i := bytes.IndexByte(data[pos:], 0xFF)
			if i < 0 {
				return nil, corrupt(name, "it ends before its end-of-image marker")
			}
			c.strip("junk")
			pos += i
		}
		start := pos
		for pos < len(data) && data[pos] == 0xFF {
			pos++
		}
		if pos >= len(data) {
			return nil, corrupt(name, "it ends before its end-of-image marker")
		}
		m := data[pos]
		pos++
		switch {
		case m == mEOI:
			if scans == 0 {
				return nil, corrupt(name, "it has no image data")
			}
			keep(start, pos)
			if pos < len(data) {
				c.strip("trailer")
			}
			return data[:w], nil
		case m == 0x00 || m == mSOI:
			return nil, corrupt(name, "marker 0x%02X at byte %d", m, pos-1)
		case m == 0x01 || 0xD0 <= m && m <= 0xD7:
			keep(start, pos) // TEM and RSTn have no length
			continue
		}
		if pos+2 > len(data) {
			return nil, corrupt(name, "it ends inside a segment")
		}
		end := pos + int(binary.BigEndian.Uint16(data[pos:]))
		if end < pos+2 {
			return nil, corrupt(name, "segment 0x%02X at byte %d has a length under 2", m, start)
		}
		if end > len(data) {
			return nil, corrupt(name, "it ends inside a segment")
		}
		payload := data[pos+2 : end]
		pos = end
		if what := jpegStrip(m, payload, c); what != "" {
			c.strip(what)
			continue
		}
		keep(start, end)
		if m != mSOS {
			continue
		}
		if scans++; scans > maxScans {
			return nil, refuse(ReasonUnsupportedType, "the JPEG file has more than %d scans, which no camera writes: "+
				"save it again as a standard JPEG and send that", maxScans)
		}
		// The entropy-coded data runs to the next marker other than a
		// stuffed 0xFF00 or a restart marker.
		i := pos
		for {
			j := bytes.IndexByte(data[i:], 0xFF)
			if j < 0 || i+j+1 >= len(data) {
				return nil, corrupt(name, "it ends inside its image data")
			}
			i += j
			if n := data[i+1]; n == 0x00 || 0xD0 <= n && n <= 0xD7 || n == 0xFF {
				i += 1 + btoi(n != 0xFF)
				continue
			}
			break
		}
		keep(pos, i)
		pos = i
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jpegStrip returns the name of what segment m holds when it is to be
// removed, else "".
func jpegStrip(m byte, payload []byte, c *cleaner) string {
	switch {
	case m == mAPP1:
		switch {
		case bytes.HasPrefix(payload, []byte("Exif\x00")):
			c.exif(payload)
			return "exif"
		case bytes.HasPrefix(payload, []byte("http://ns.adobe.com/xap/1.0/\x00")),
			bytes.HasPrefix(payload, []byte("http://ns.adobe.com/xmp/extension/\x00")):
			return "xmp"
		}
		return "app1"
	case m == mAPP2:
		if bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00")) {
			return ""
		}
		if bytes.HasPrefix(payload, []byte("MPF\x00")) {
			return "mpf"
		}
		return "app2"
	case m == mAP13:
		return "iptc"
	case m == mAP14:
		if bytes.HasPrefix(payload, []byte("Adobe")) {
			return ""
		}
		return "app14"
	case mAPP2 < m && m <= mAP15:
		return fmt.Sprintf("app%d", m-mAPP0)
	case m == mCOM:
		return "comment"
	}
	return ""
}

// exif notes the orientation an EXIF block gives, if none was found
// before. The block is a TIFF structure, after "Exif\0\0" in JPEG (and in
// some PNG and WebP writers' output).
func (c *cleaner) exif(b []byte) {
	if c.orientation != 0 {
		return
	}
	if bytes.HasPrefix(b, []byte("Exif\x00\x00")) {
		b = b[6:]
	}
	c.orientation = exifOrientation(b)
}

// exifOrientation returns the Orientation tag (0x0112) of IFD0 in a TIFF
// structure, or 0.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := uint64(bo.Uint32(t[4:]))
	if off+2 > uint64(len(t)) {
		return 0
	}
	n := uint64(bo.Uint16(t[off:]))
	for i := uint64(0); i < n; i++ {
		e := off + 2 + 12*i
		if e+12 > uint64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			if v := int(bo.Uint16(t[e+8:])); 1 <= v && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}
