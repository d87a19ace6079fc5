package media

import (
	"encoding/binary"
	"fmt"
)

// VP8X flags.
const (
	vp8xAnimation = 1 << 1
	vp8xXMP       = 1 << 2
	vp8xEXIF      = 1 << 3
)

// cleanWebP removes the EXIF and XMP chunks of a WebP in place, clears
// their VP8X flags and fixes the RIFF size. Animated WebP is refused.
func cleanWebP(data []byte, c *cleaner) ([]byte, error) {
	const name = "WebP"
	size := uint64(binary.LittleEndian.Uint32(data[4:]))
	if size < 4 || size+8 > uint64(len(data)) {
		return nil, corrupt(name, "its RIFF header gives %d bytes but the file has %d", size+8, len(data))
	}
	riffEnd := 8 + int(size)
	if riffEnd < len(data) {
		c.strip("trailer")
	}
	w, pos := 12, 12
	flagsAt := -1
	image := false
	for first := true; pos < riffEnd; first = false {
		if pos+8 > riffEnd {
			return nil, corrupt(name, "it ends inside a chunk header")
		}
		fourcc := string(data[pos : pos+4])
		n := uint64(binary.LittleEndian.Uint32(data[pos+4:]))
		if uint64(pos)+8+n > uint64(riffEnd) {
			return nil, corrupt(name, "chunk %q runs past the end of the file", fourcc)
		}
		end := pos + 8 + int(n)
		if n%2 == 1 && end < riffEnd {
			end++ // the pad byte; a last chunk without one is accepted
		}
		if first && fourcc != "VP8X" && fourcc != "VP8 " && fourcc != "VP8L" {
			return nil, corrupt(name, "its first chunk is %q", fourcc)
		}
		switch fourcc {
		case "VP8X":
			if !first || n != 10 {
				return nil, corrupt(name, "its VP8X chunk is misplaced or not 10 bytes")
			}
			if data[pos+8]&vp8xAnimation != 0 {
				return nil, animatedWebP()
			}
			flagsAt = w + 8
		case "ANIM", "ANMF":
			return nil, animatedWebP()
		case "VP8 ", "VP8L":
			if image {
				return nil, corrupt(name, "it has two images")
			}
			image = true
		case "ALPH", "ICCP":
		case "EXIF":
			c.exif(data[pos+8 : pos+8+int(n)])
			c.strip("exif")
			pos = end
			continue
		case "XMP ":
			c.strip("xmp")
			pos = end
			continue
		default:
			if isPrintable(fourcc) {
				c.strip("chunk:" + fourcc)
			} else {
				c.strip(fmt.Sprintf("chunk:%x", fourcc))
			}
			pos = end
			continue
		}
		w += copy(data[w:], data[pos:end])
		pos = end
	}
	if !image {
		return nil, corrupt(name, "it has no image chunk")
	}
	if flagsAt >= 0 {
		data[flagsAt] &^= vp8xEXIF | vp8xXMP
	}
	binary.LittleEndian.PutUint32(data[4:], uint32(w-8))
	return data[:w], nil
}

func animatedWebP() *RefusedError {
	return refuse(ReasonUnsupportedType, "animated WebP images are not accepted: send a still photo (JPEG, PNG or WebP) or a video")
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
