package auth

import (
	"crypto/sha256"
	"sync"
)

// maxVerified bounds the cache of verified signatures; when it is full it is
// emptied and fills again with the tokens in use.
const maxVerified = 16384

// verified remembers the claims of tokens whose signature verified, so a
// caller sending the same token on every call pays for one signature check.
// Only the signature is remembered: the claims (expiry, audience, roles) are
// checked on every call. An entry holds only while the key set it was
// verified with is in force: a re-read JWKS (a removed key) empties it.
type verified struct {
	mu     sync.RWMutex
	keys   *map[string]verifyKey
	claims map[[sha256.Size]byte]tokenClaims
}

// get returns the claims of the token whose hash is sum if it verified with
// the key set keys.
func (c *verified) get(keys *map[string]verifyKey, sum [sha256.Size]byte) (tokenClaims, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.keys != keys {
		return tokenClaims{}, false
	}
	claims, ok := c.claims[sum]
	return claims, ok
}

// put remembers that the token whose hash is sum verified with the key set keys.
func (c *verified) put(keys *map[string]verifyKey, sum [sha256.Size]byte, claims tokenClaims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != keys || len(c.claims) >= maxVerified {
		c.keys, c.claims = keys, map[[sha256.Size]byte]tokenClaims{}
	}
	c.claims[sum] = claims
}
