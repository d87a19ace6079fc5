package media

import (
	"bytes"
	"encoding/binary"
)

// mp4Containers are the boxes whose children are walked looking for udta
// and meta boxes and for the tracks.
var mp4Containers = map[string]bool{
	"moov": true, "trak": true, "mdia": true, "minf": true, "edts": true, "mvex": true,
	"moof": true, "traf": true, "mfra": true,
}

// xmpUUID is the user type of the uuid box that holds XMP.
var xmpUUID = []byte{0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC}

// heifBrands are the brands of images in the same box format: HEIC/HEIF
// photos from phones, AVIF.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true, "hevx": true,
	"mif1": true, "mif2": true, "msf1": true, "avif": true, "avis": true, "avio": true,
}

const mp4MaxDepth = 8

type box struct {
	typ   string
	start int // the first byte of the header
	base  int // the header's length without a uuid box's user type: 8 or 16
	hdr   int // the header's length
	end   int
}

type mp4Track struct {
	handler       string
	width, height int
}

type mp4State struct {
	c       *cleaner
	tracks  []mp4Track
	moov    bool
	mdat    bool
	quickTm bool
}

// cleanMP4 turns the udta, meta and XMP uuid boxes of an MP4 or QuickTime
// file into free boxes of the same size in place, and checks that the file
// has a video track.
func cleanMP4(data []byte, c *cleaner) ([]byte, error) {
	brand := string(data[8:12])
	s := &mp4State{c: c, quickTm: brand == "qt  "}
	if err := s.walk(data, 0, len(data), 0, nil); err != nil {
		return nil, err
	}
	switch {
	case !s.moov && heifBrands[brand]:
		return nil, refuse(ReasonUnsupportedType, "HEIC, HEIF and AVIF photos are not accepted: send the photo as JPEG "+
			"(phones do so when set to share the most compatible format)")
	case !s.moov:
		return nil, corrupt("MP4", "it has no moov box")
	case !s.mdat:
		return nil, corrupt("MP4", "it has no media data (mdat box)")
	}
	for _, t := range s.tracks {
		if t.handler == "vide" {
			c.width, c.height = t.width, t.height
			if s.quickTm {
				c.contentType = TypeQuickTime
			}
			return data, nil
		}
	}
	return nil, refuse(ReasonUnsupportedType, "the file has no video track (a sound recording or a photo?): send a video, or the photo as JPEG")
}

// readBox reads the header of the box at pos, which must end by to.
func readBox(data []byte, pos, to int, top bool) (box, error) {
	if to-pos < 8 {
		return box{}, corrupt("MP4", "it ends inside a box header at byte %d", pos)
	}
	b := box{typ: string(data[pos+4 : pos+8]), start: pos, base: 8}
	size := uint64(binary.BigEndian.Uint32(data[pos:]))
	switch size {
	case 0:
		if !top {
			return box{}, corrupt("MP4", "box %q at byte %d has size 0 inside another box", b.typ, pos)
		}
		size = uint64(to - pos)
	case 1:
		if to-pos < 16 {
			return box{}, corrupt("MP4", "it ends inside a box header at byte %d", pos)
		}
		size = binary.BigEndian.Uint64(data[pos+8:])
		b.base = 16
	}
	b.hdr = b.base
	if b.typ == "uuid" {
		b.hdr += 16
	}
	if size < uint64(b.hdr) || size > uint64(to-pos) {
		return box{}, corrupt("MP4", "box %q at byte %d runs past its end or its parent's", b.typ, pos)
	}
	b.end = pos + int(size)
	return b, nil
}

// neutralize turns b into a free box of the same size, its payload zeroed.
func neutralize(data []byte, b box) {
	copy(data[b.start+4:], "free")
	clear(data[b.start+b.base : b.end])
}

func (s *mp4State) walk(data []byte, from, to, depth int, track *mp4Track) error {
	if depth > mp4MaxDepth {
		return corrupt("MP4", "its boxes are nested too deep")
	}
	for pos := from; pos < to; {
		b, err := readBox(data, pos, to, depth == 0)
		if err != nil {
			return err
		}
		pos = b.end
		payload := data[b.start+b.hdr : b.end]
		switch {
		case b.typ == "udta" || b.typ == "meta":
			neutralize(data, b)
			s.c.strip(b.typ)
			continue
		case b.typ == "uuid" && bytes.Equal(data[b.start+b.base:b.start+b.hdr], xmpUUID):
			neutralize(data, b)
			s.c.strip("xmp")
			continue
		case depth == 0 && b.typ == "moov":
			s.moov = true
		case depth == 0 && b.typ == "mdat":
			s.mdat = true
		case b.typ == "trak" && track == nil:
			s.tracks = append(s.tracks, mp4Track{})
			t := &s.tracks[len(s.tracks)-1]
			if err := s.walk(data, b.start+b.hdr, b.end, depth+1, t); err != nil {
				return err
			}
			continue
		case b.typ == "tkhd" && track != nil && len(payload) >= 4:
			off := 76 // version 0: 32-bit times and duration
			if payload[0] == 1 {
				off = 88
			}
			if len(payload) >= off+8 {
				track.width = int(binary.BigEndian.Uint32(payload[off:]) >> 16)
				track.height = int(binary.BigEndian.Uint32(payload[off+4:]) >> 16)
			}
		case b.typ == "hdlr" && track != nil && track.handler == "" && len(payload) >= 12:
			track.handler = string(payload[8:12])
		}
		if mp4Containers[b.typ] {
			if err := s.walk(data, b.start+b.hdr, b.end, depth+1, track); err != nil {
				return err
			}
		}
	}
	return nil
}
