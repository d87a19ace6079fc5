package media

import "math/bits"

// EBML and Matroska element IDs, with their length-marker bits.
const (
	idEBML        = 0x1A45DFA3
	idDocType     = 0x4282
	idSegment     = 0x18538067
	idVoid        = 0xEC
	idCRC32       = 0xBF
	idCluster     = 0x1F43B675
	idTracks      = 0x1654AE6B
	idTrackEntry  = 0xAE
	idTrackType   = 0x83
	idVideo       = 0xE0
	idPixelWidth  = 0xB0
	idPixelHeight = 0xBA
	idTags        = 0x1254C367
	idAttachments = 0x1941A469
)

// clusterChildren are the elements a Cluster holds, which tell where a
// Cluster of unknown size (as live recorders write them) ends: at the first
// element that is none of them.
var clusterChildren = map[uint32]bool{
	0xE7: true, 0x5854: true, 0xA7: true, 0xAB: true, 0xA3: true, 0xA0: true, 0xAF: true, idVoid: true, idCRC32: true,
}

// ebmlStripped names the Segment children that are neutralized.
var ebmlStripped = map[uint32]string{idTags: "Tags", idAttachments: "Attachments"}

type element struct {
	id      uint32
	start   int // the first byte of the ID
	data    int // the first byte of the payload
	end     int
	unknown bool // the size was "unknown": end is where the parent ends
}

// readID reads an element ID (1 to 4 bytes, marker bits kept).
func readID(b []byte) (uint32, int, bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n := bits.LeadingZeros8(b[0]) + 1
	if n > 4 || len(b) < n {
		return 0, 0, false
	}
	var id uint32
	for i := range n {
		id = id<<8 | uint32(b[i])
	}
	return id, n, true
}

// readSize reads an element size (1 to 8 bytes); all value bits set means
// unknown.
func readSize(b []byte) (size uint64, n int, unknown, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false, false
	}
	n = bits.LeadingZeros8(b[0]) + 1
	if len(b) < n {
		return 0, 0, false, false
	}
	size = uint64(b[0]) & (0xFF >> n)
	for i := 1; i < n; i++ {
		size = size<<8 | uint64(b[i])
	}
	return size, n, size == 1<<(7*n)-1, true
}

// readElement reads the header of the element at pos, which must end by to.
func readElement(data []byte, pos, to int) (element, error) {
	id, n, ok := readID(data[pos:to])
	if !ok {
		return element{}, corrupt("WebM", "bad element ID at byte %d", pos)
	}
	size, m, unknown, ok := readSize(data[pos+n : to])
	if !ok {
		return element{}, corrupt("WebM", "bad element size at byte %d", pos+n)
	}
	e := element{id: id, start: pos, data: pos + n + m, unknown: unknown}
	if unknown {
		e.end = to
		return e, nil
	}
	if size > uint64(to-e.data) {
		return element{}, corrupt("WebM", "element 0x%X at byte %d runs past its end or its parent's", id, pos)
	}
	e.end = e.data + int(size)
	return e, nil
}

func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// toVoid turns e into a Void element of the same total length, its payload
// zeroed. e's header is at least 5 bytes (a 4-byte ID and a size).
func toVoid(data []byte, e element) {
	total := e.end - e.start
	m := min(e.data-e.start-1, 8)
	size := uint64(total - 1 - m)
	data[e.start] = idVoid
	for i := m; i >= 1; i-- {
		data[e.start+i] = byte(size)
		size >>= 8
	}
	data[e.start+1] |= 0x80 >> (m - 1)
	clear(data[e.start+1+m : e.end])
}

// cleanWebM turns the Tags and Attachments elements of a WebM file into
// Void elements of the same size in place, and checks that the file has a
// video track.
func cleanWebM(data []byte, c *cleaner) ([]byte, error) {
	hdr, err := readElement(data, 0, len(data))
	if err != nil {
		return nil, err
	}
	if hdr.unknown {
		return nil, corrupt("WebM", "its EBML header has no size")
	}
	docType := ""
	for pos := hdr.data; pos < hdr.end; {
		e, err := readElement(data, pos, hdr.end)
		if err != nil {
			return nil, err
		}
		if e.unknown {
			return nil, corrupt("WebM", "an element of its EBML header has no size")
		}
		if e.id == idDocType {
			docType = string(data[e.data:e.end])
		}
		pos = e.end
	}
	switch docType {
	case "webm":
	case "matroska":
		return nil, refuse(ReasonUnsupportedType, "Matroska (.mkv) videos are not accepted: send the video as MP4 or WebM")
	default:
		return nil, refuse(ReasonUnsupportedType, "the EBML file is of type %q, not a WebM video: send an MP4 or WebM video", docType)
	}
	segments, clusters := 0, 0
	video := false
	for pos := hdr.end; pos < len(data); {
		seg, err := readElement(data, pos, len(data))
		if err != nil {
			return nil, err
		}
		pos = seg.end
		if seg.id != idSegment {
			continue
		}
		segments++
		for p := seg.data; p < seg.end; {
			e, err := readElement(data, p, seg.end)
			if err != nil {
				return nil, err
			}
			if e.unknown {
				if e.id != idCluster {
					return nil, corrupt("WebM", "element 0x%X at byte %d has no size", e.id, e.start)
				}
				if e.end, err = clusterEnd(data, e.data, seg.end); err != nil {
					return nil, err
				}
			}
			p = e.end
			switch e.id {
			case idCluster:
				clusters++
			case idTracks:
				v, err := webmTracks(data, e, c)
				if err != nil {
					return nil, err
				}
				video = video || v
			case idTags, idAttachments:
				toVoid(data, e)
				c.strip(ebmlStripped[e.id])
			}
		}
	}
	switch {
	case segments == 0:
		return nil, corrupt("WebM", "it has no Segment")
	case !video:
		return nil, refuse(ReasonUnsupportedType, "the file has no video track (a sound recording?): send a video")
	case clusters == 0:
		return nil, corrupt("WebM", "it has no frames (no Cluster)")
	}
	return data, nil
}

// clusterEnd finds where a Cluster of unknown size whose payload starts at
// from ends: at the first element that a Cluster cannot hold, or at to.
func clusterEnd(data []byte, from, to int) (int, error) {
	for pos := from; pos < to; {
		e, err := readElement(data, pos, to)
		if err != nil {
			return 0, err
		}
		if !clusterChildren[e.id] {
			return pos, nil
		}
		if e.unknown {
			return 0, corrupt("WebM", "element 0x%X at byte %d has no size", e.id, e.start)
		}
		pos = e.end
	}
	return to, nil
}

// webmTracks reads the Tracks element: whether one track is a video track,
// and that track's size in pixels.
func webmTracks(data []byte, tracks element, c *cleaner) (bool, error) {
	video := false
	err := eachChild(data, tracks, func(entry element) error {
		if entry.id != idTrackEntry {
			return nil
		}
		var typ uint64
		var w, h uint64
		err := eachChild(data, entry, func(e element) error {
			switch e.id {
			case idTrackType:
				typ = readUint(data[e.data:e.end])
			case idVideo:
				return eachChild(data, e, func(v element) error {
					switch v.id {
					case idPixelWidth:
						w = readUint(data[v.data:v.end])
					case idPixelHeight:
						h = readUint(data[v.data:v.end])
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		if typ == 1 && !video {
			video = true
			if w <= 1<<20 && h <= 1<<20 {
				c.width, c.height = int(w), int(h)
			}
		}
		return nil
	})
	return video, err
}

// eachChild calls fn for each child of the known-size element parent.
func eachChild(data []byte, parent element, fn func(element) error) error {
	if parent.unknown {
		return corrupt("WebM", "element 0x%X at byte %d has no size", parent.id, parent.start)
	}
	for pos := parent.data; pos < parent.end; {
		e, err := readElement(data, pos, parent.end)
		if err != nil {
			return err
		}
		if e.unknown {
			return corrupt("WebM", "element 0x%X at byte %d has no size", e.id, e.start)
		}
		if err := fn(e); err != nil {
			return err
		}
		pos = e.end
	}
	return nil
}
