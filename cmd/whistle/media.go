package main

import (
	"context"
	"fmt"
	"time"

	"github.com/whistle-civic/whistle/pkg/media"
	"github.com/whistle-civic/whistle/pkg/objstore"
	"github.com/whistle-civic/whistle/services/intake"
)

// mediaStore is the object store the WHISTLE_MEDIA_DIR and WHISTLE_S3_*
// variables describe (its secret key is read by openMedia, not here, so
// that the description can be logged).
func (c config) mediaStore() objstore.Config {
	return objstore.Config{Dir: c.MediaDir, S3: objstore.S3Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, Region: c.S3Region,
		AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, DisableTLS: c.S3Insecure, CAFile: c.S3CAFile}}
}

// openMedia opens the configured store (none when neither a folder nor an
// endpoint is set) and returns intake's media configuration and a closer.
func (c config) openMedia(ctx context.Context) (intake.MediaConfig, func(), error) {
	mc := intake.MediaConfig{Limits: media.Limits{MaxPhotoBytes: c.MaxPhotoBytes, MaxVideoBytes: c.MaxVideoBytes}}
	oc := c.mediaStore()
	if oc.Dir == "" && oc.S3.Endpoint == "" {
		return mc, func() {}, nil
	}
	if c.S3SecretKeyFile != "" {
		secret, err := readSecretFile("WHISTLE_S3_SECRET_KEY_FILE", c.S3SecretKeyFile, "the S3 secret key")
		if err != nil {
			return mc, nil, err
		}
		oc.S3.SecretKey = secret
	}
	st, err := objstore.Open(oc)
	if err != nil {
		return mc, nil, err
	}
	if s3, ok := st.(*objstore.S3); ok {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s3.EnsureBucket(ctx); err != nil {
			return mc, nil, fmt.Errorf("media store %s: %w (check WHISTLE_S3_ENDPOINT and the credentials)", oc, err)
		}
	}
	mc.Store = st
	return mc, func() {
		if cl, ok := st.(interface{ Close() error }); ok {
			_ = cl.Close()
		}
	}, nil
}
