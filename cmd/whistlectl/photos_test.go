package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// phonePhoto writes a JPEG as a phone takes it (EXIF with a GPS position)
// and returns its path and the JPEG without the EXIF.
func phonePhoto(t *testing.T) (string, []byte) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		t.Fatal(err)
	}
	exif := "Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPS 39.9400N 116.4000E"
	seg := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(len(exif)+2))
	b := plain.Bytes()
	path := filepath.Join(t.TempDir(), "pothole.jpg")
	if err := os.WriteFile(path, slices.Concat(b[:2], seg, []byte(exif), b[2:]), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// TestPhotosDuplicatesMergeAndWithdraw drives the snapshot commands: a
// report with a photo, a second one nearby told of the first, the photo
// saved back without its EXIF, the second merged into the first, and a third
// withdrawn.
func TestPhotosDuplicatesMergeAndWithdraw(t *testing.T) {
	r := startStack(t)
	photo, kept := phonePhoto(t)
	number := regexp.MustCompile(`ticket (HH-\d{8}-\d{5})`)
	report := func(key, lat string, more ...string) string {
		t.Helper()
		out := mustCtl(t, r.Addr, append([]string{"report", "--category", "road_damage", "--grid", "xc-hd-dj-g01", "--lat", lat,
			"--lon", "116.4", "--description", "a pothole", "--key", key}, more...)...)
		m := number.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("report:\n%s", out)
		}
		return out
	}
	out := report("ctl-snap-1", "39.94", "--photo", photo)
	first := number.FindStringSubmatch(out)[1]
	if !strings.Contains(out, "with 1 photo(s)") {
		t.Fatalf("report with a photo:\n%s", out)
	}
	out = report("ctl-snap-2", "39.94018") // 20 m north
	second := number.FindStringSubmatch(out)[1]
	if !regexp.MustCompile(`likely the same matter: ` + first + ` \((reported|dispatched), 20 m away\)`).MatchString(out) {
		t.Fatalf("the second report is not told of the first:\n%s", out)
	}
	if out := mustCtl(t, r.Addr, "duplicates", second); !regexp.MustCompile(`^` + first + `\s+\w+\s+20 m away\s+reported `).MatchString(out) {
		t.Fatalf("duplicates:\n%s", out)
	}

	dir := filepath.Join(t.TempDir(), "saved")
	if out := mustCtl(t, r.Addr, "photos", first, "--save", dir); !strings.Contains(out, "image/jpeg") || !strings.Contains(out, "pothole.jpg by xc-hd-dj-g01") {
		t.Fatalf("photos:\n%s", out)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "*-pothole.jpg"))
	if len(saved) != 1 {
		t.Fatalf("saved %v", saved)
	}
	if b, err := os.ReadFile(saved[0]); err != nil || !bytes.Equal(b, kept) {
		t.Fatalf("the saved photo is not the JPEG without its EXIF (%d bytes, %v)", len(b), err)
	}

	for _, n := range []string{first, second} {
		eventuallyMatch(t, r.Addr, `DISPATCHED`, "show", n)
	}
	if out := mustCtl(t, r.Addr, "merge", second, "--into", first, "--note", "the same pothole", "--as", "xc-hd"); !strings.Contains(out,
		"merged "+second+" into "+first+" (merged)") {
		t.Fatalf("merge:\n%s", out)
	}
	// The department resolves with evidence; the community sends it back with a photo of what is still wrong.
	mustCtl(t, r.Addr, "accept", first, "--as", "xc-urban")
	mustCtl(t, r.Addr, "resolve", first, "--as", "xc-urban", "--result", "filled", "--missing-assists-reason", "none needed",
		"--evidence", photo)
	eventuallyMatch(t, r.Addr, `rework`, "evaluate", first, "--as", "xc-hd-dj", "--verdict", "unsatisfied", "--reason", "not_fixed",
		"--comment", "still there", "--photo", photo)
	eventuallyMatch(t, r.Addr, `(?s)by xc-hd-dj-g01.*by xc-urban.*by xc-hd-dj `, "photos", first)

	eventuallyMatch(t, r.Addr, `Photos    1 \(whistlectl photos `+first+`\)\nMerged    `+second+` \(the same matter`, "show", first)

	third := number.FindStringSubmatch(report("ctl-snap-3", "39.95"))[1]
	if out := mustCtl(t, r.Addr, "withdraw", third, "--reason", "fixed by the residents", "--as", "xc-hd-dj-g01"); !strings.Contains(out,
		"withdrew "+third+" (cancelled)") {
		t.Fatalf("withdraw:\n%s", out)
	}
}
