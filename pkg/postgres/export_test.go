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

// GroupQueued counts the calls waiting for a group (InGroupTx).
func GroupQueued(db *DB) int {
	g := db.groupOf()
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}
