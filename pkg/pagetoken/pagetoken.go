// Package pagetoken turns a service's internal cursor (e.g. the last id of a
// page) into the opaque page_token callers pass back, and reads it again.
package pagetoken

import (
	"encoding/base64"
	"errors"
	"strings"
)

const prefix = "v1:"

// ErrInvalid means a token was not made by Encode.
var ErrInvalid = errors.New("invalid page token")

// Encode returns the token for cursor; an empty cursor gives an empty token
// (no next page).
func Encode(cursor string) string {
	if cursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + cursor))
}

// Decode returns the cursor in token; an empty token gives an empty cursor
// (the first page).
func Decode(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(b), prefix) || len(b) == len(prefix) {
		return "", ErrInvalid
	}
	return string(b[len(prefix):]), nil
}
