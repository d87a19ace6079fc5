package main

import (
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
const attachmentHelp = "evidence as FILE=URL: a local copy of the file kept at the https URL, whose name, size and " +
	"SHA-256 are sent (repeatable)"

// parseAttachments reads FILE=URL pairs: each FILE is read for its base name,
// size and SHA-256, which the API requires of an attachment; the file itself
// stays where it is. The server checks the bounds (docs/security.md).
func parseAttachments(specs []string) ([]*whistlev1.Attachment, error) {
	var out []*whistlev1.Attachment
	for _, s := range specs {
		path, url, ok := strings.Cut(s, "=")
		if !ok || path == "" || url == "" {
			return nil, fmt.Errorf("attachment %q: write it as FILE=URL, e.g. photo.jpg=https://files.example.gov/123", s)
		}
		size, sum, err := digest(path)
		if err != nil {
			return nil, fmt.Errorf("attachment %q: %w (name a local copy of the file kept at %s)", s, err, url)
		}
		out = append(out, &whistlev1.Attachment{Name: filepath.Base(path), SizeBytes: size, Sha256: sum, Url: url})
	}
	return out, nil
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
