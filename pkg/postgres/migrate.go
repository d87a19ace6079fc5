package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var platformMigrations embed.FS

// Migrate brings the service's schema up to date: it creates the schema, then
// applies the platform migrations (outbox and inbox tables, version table
// whistle_platform_version) and the service's own migrations from fsys (*.sql
// goose files at its root; version table goose_db_version; nil for none). A PostgreSQL
// advisory lock per schema makes it safe for several replicas to start at
// once: one migrates, the others wait and then find nothing to do. The lock
// is held on a connection of its own, outside the pool, so that a pool of
// one connection can still run the migrations.
func Migrate(ctx context.Context, db *DB, fsys fs.FS, log *slog.Logger) error {
	conn, err := pgx.ConnectConfig(ctx, db.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("migrate %s: connect: %w", db.Schema, AsUnavailable(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	lockKey := "whistle-migrate:" + db.Schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		return fmt.Errorf("migrate %s: take lock: %w", db.Schema, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", lockKey)
	}()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{db.Schema}.Sanitize()); err != nil {
		return fmt.Errorf("migrate %s: create schema: %w", db.Schema, err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	platform, err := fs.Sub(platformMigrations, "migrations")
	if err != nil {
		return err
	}
	if err := up(ctx, sqlDB, platform, db.Schema+".whistle_platform_version", log); err != nil {
		return fmt.Errorf("migrate %s platform tables: %w", db.Schema, err)
	}
	if fsys == nil {
		return nil
	}
	if err := up(ctx, sqlDB, fsys, db.Schema+".goose_db_version", log); err != nil {
		return fmt.Errorf("migrate %s: %w", db.Schema, err)
	}
	return nil
}

func up(ctx context.Context, db *sql.DB, fsys fs.FS, table string, log *slog.Logger) error {
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(table), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return err
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "table", table, "migration", r.Source.Path, "took", r.Duration.String())
		}
	}
	return nil
}
