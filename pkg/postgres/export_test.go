package postgres

import "io/fs"

// PlatformMigrations returns the platform migrations Migrate applies to every
// schema, for tests that check what was applied.
func PlatformMigrations() fs.FS {
	sub, err := fs.Sub(platformMigrations, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}
