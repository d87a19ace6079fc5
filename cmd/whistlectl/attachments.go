package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	whistlev1 "github.com/whistle-civic/whistle/pkg/gen/whistle/v1"
)

// attachmentHelp describes the --evidence and --attachment flags.
const attachmentHelp = "evidence: a photo or video FILE, uploaded to Whistle (metadata stripped), or FILE=URL for a file " +
	"kept elsewhere at the https URL, whose name, size and SHA-256 are sent (repeatable)"

// attachments turns the --evidence (--attachment) values into attachments:
// a FILE is uploaded to Whistle as actor (its metadata stripped) and named
// by its media id; FILE=URL is read for its base name, size and SHA-256,
// which the API requires of an attachment kept elsewhere, and stays where it
// is. The server checks the bounds (docs/security.md).
func (g *globals) attachments(ctx context.Context, specs []string, actor *whistlev1.Actor) ([]*whistlev1.Attachment, error) {
	var out []*whistlev1.Attachment
	for _, s := range specs {
		path, url, ok := strings.Cut(s, "=")
		if !ok {
			m, err := g.upload(ctx, path, actor)
			if err != nil {
				return nil, err
			}
			out = append(out, &whistlev1.Attachment{Name: m.GetName(), SizeBytes: m.GetSizeBytes(), Sha256: m.GetSha256(), MediaId: m.GetId()})
			continue
		}
		if path == "" || url == "" {
			return nil, fmt.Errorf("attachment %q: write it as FILE (uploaded) or FILE=URL, e.g. photo.jpg=https://files.example.gov/123", s)
		}
		size, sum, err := digest(path)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: %w (name a local copy of the file kept at %s)", s, err, url)
		}
		out = append(out, &whistlev1.Attachment{Name: filepath.Base(path), SizeBytes: size, Sha256: sum, Url: url})
	}
	return out, nil
}

// upload sends a photo or video file to Whistle as actor.
func (g *globals) upload(ctx context.Context, path string, actor *whistlev1.Actor) (*whistlev1.Media, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("photo %s: %w (name a photo or video file)", path, err)
	}
	defer f.Close()
	m, err := g.c.UploadMedia(ctx, filepath.Base(path), f, actor)
	if err != nil {
		return nil, fmt.Errorf("photo %s: %w", path, err)
	}
	return m, nil
}

// digest returns the size and hex SHA-256 of the file at path.
func digest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
