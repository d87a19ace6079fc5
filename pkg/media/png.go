package media

import (
	"encoding/binary"
	"hash/crc32"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// pngKept are the ancillary chunks kept: they change how the pixels look
// (colour, transparency, size on paper, animation), not who took them.
var pngKept = map[string]bool{
	"cHRM": true, "gAMA": true, "iCCP": true, "sBIT": true, "sRGB": true, "cICP": true, "mDCV": true, "cLLI": true,
	"bKGD": true, "hIST": true, "tRNS": true, "pHYs": true, "sPLT": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// pngStripped are the chunks that hold metadata.
var pngStripped = map[string]bool{"eXIf": true, "tEXt": true, "zTXt": true, "iTXt": true, "tIME": true}

// cleanPNG removes the metadata chunks of a PNG in place, checking every
// chunk's CRC, and returns the kept bytes.
func cleanPNG(data []byte, c *cleaner) ([]byte, error) {
	const name = "PNG"
	w := len(pngSignature)
	pos := w
	for first := true; ; first = false {
		if pos+12 > len(data) {
			return nil, corrupt(name, "it ends before its IEND chunk")
		}
		n := binary.BigEndian.Uint32(data[pos:])
		if n > 1<<31-1 || uint64(pos)+12+uint64(n) > uint64(len(data)) {
			return nil, corrupt(name, "it ends inside a chunk")
		}
		end := pos + 12 + int(n)
		typ := string(data[pos+4 : pos+8])
		if !isChunkType(typ) {
			return nil, corrupt(name, "a chunk at byte %d has the invalid type %q", pos, typ)
		}
		if first && typ != "IHDR" {
			return nil, corrupt(name, "its first chunk is %q, not IHDR", typ)
		}
		if crc32.ChecksumIEEE(data[pos+4:end-4]) != binary.BigEndian.Uint32(data[end-4:]) {
			return nil, corrupt(name, "chunk %q at byte %d fails its CRC check", typ, pos)
		}
		ancillary := typ[0]&0x20 != 0
		switch {
		case pngStripped[typ]:
			if typ == "eXIf" {
				c.exif(data[pos+8 : end-4])
			}
			c.strip(typ)
		case ancillary && !pngKept[typ]:
			c.strip("ancillary:" + typ)
		default:
			w += copy(data[w:], data[pos:end])
		}
		pos = end
		if typ == "IEND" {
			if pos < len(data) {
				c.strip("trailer")
			}
			return data[:w], nil
		}
	}
}

func isChunkType(t string) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
