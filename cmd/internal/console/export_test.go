package console

import "context"

// CheckIDToken runs the callback's checks of an ID token (signature,
// issuer, audience, expiry, nonce) on raw, for the tests of the checks
// that the real flow cannot reach (an ID token issued to another client).
func CheckIDToken(ctx context.Context, c *Console, raw, nonce string) error {
	_, v, err := c.oidc.discover(ctx)
	if err != nil {
		return err
	}
	_, err = c.oidc.checkIDToken(ctx, v, raw, nonce)
	return err
}
