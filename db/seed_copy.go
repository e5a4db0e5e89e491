package db

// How the seed writes: one COPY per table and batch, and the secondary
// indexes dropped before a large load and built again after it.

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// copyBatch writes one batch: the users first, then the rows that point at
// them, each table with one COPY.
func copyBatch(ctx context.Context, tx *sqlx.Tx, batch []SeedUser, roleIDs map[string]int, now time.Time, res *SeedResult) error {
	err := copyRows(ctx, tx, "users", []string{"id", "email", "name", "password_hash", "email_verified",
		"banned", "ban_reason", "banned_until", "banned_at", "created_at", "updated_at", "last_login_at", "oauth_links"},
		func(row func(...any) error) error {
			for _, u := range batch {
				var hash sql.NullString
				if u.PasswordHash != "" {
					hash = sql.NullString{String: u.PasswordHash, Valid: true}
				}
				var reason sql.NullString
				var until, at *time.Time
				if u.Ban != nil {
					reason = sql.NullString{String: u.Ban.Reason, Valid: true}
					until, at = u.Ban.Until, &u.Ban.At
				}
				if err := row(u.ID, u.Email, u.Name, hash, u.EmailVerified, u.Ban != nil, reason, until, at,
					u.CreatedAt, u.UpdatedAt, u.LastLoginAt, len(u.OAuthAccounts)); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	err = copyRows(ctx, tx, "user_roles", []string{"user_id", "role_id", "granted_at"},
		func(row func(...any) error) error {
			for _, u := range batch {
				for _, name := range u.Roles {
					id, ok := roleIDs[name]
					if !ok {
						return invalid("roles", fmt.Sprintf("unknown role %q", name))
					}
					if err := row(u.ID, id, u.CreatedAt); err != nil {
						return err
					}
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	err = copyRows(ctx, tx, "refresh_tokens", []string{"user_id", "token_hash", "user_agent", "ip",
		"created_at", "expires_at", "revoked_at"},
		func(row func(...any) error) error {
			for _, u := range batch {
				for _, se := range u.Sessions {
					var ip sql.NullString
					if se.IP != "" {
						ip = sql.NullString{String: se.IP, Valid: true}
					}
					if err := row(u.ID, se.TokenHash, se.UserAgent, ip, se.CreatedAt, se.ExpiresAt, se.RevokedAt); err != nil {
						return err
					}
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	err = copyRows(ctx, tx, "oauth_accounts", []string{"user_id", "provider", "provider_user_id", "email", "created_at"},
		func(row func(...any) error) error {
			for _, u := range batch {
				for _, o := range u.OAuthAccounts {
					if err := row(u.ID, o.Provider, o.ProviderUserID, o.Email, o.CreatedAt); err != nil {
						return err
					}
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	// The users are new: each (user, provider) pair of theirs is new too.
	linked := map[string]int64{}
	for _, u := range batch {
		seen := map[string]bool{}
		for _, o := range u.OAuthAccounts {
			if !seen[o.Provider] {
				seen[o.Provider] = true
				linked[o.Provider]++
			}
		}
	}
	for _, provider := range slices.Sorted(maps.Keys(linked)) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO signin_methods AS m (method, users) VALUES ($1, $2)
			ON CONFLICT (method) DO UPDATE SET users = m.users + EXCLUDED.users`, provider, linked[provider]); err != nil {
			return fmt.Errorf("db: seed: count sign-in methods: %w", err)
		}
	}
	for _, u := range batch {
		res.Users++
		if u.EmailVerified {
			res.Verified++
		}
		if u.Ban != nil && (u.Ban.Until == nil || u.Ban.Until.After(now)) {
			res.Banned++
		}
		if len(u.Roles) > 0 {
			res.Staff++
		}
		res.Sessions += len(u.Sessions)
		res.OAuthAccounts += len(u.OAuthAccounts)
	}
	return nil
}

// copyRows runs one COPY into table; rows calls row once per row.
func copyRows(ctx context.Context, tx *sqlx.Tx, table string, columns []string, rows func(row func(...any) error) error) error {
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, columns...))
	if err != nil {
		return fmt.Errorf("db: seed: copy into %s: %w", table, err)
	}
	defer stmt.Close()
	err = rows(func(values ...any) error {
		_, err := stmt.ExecContext(ctx, values...)
		return err
	})
	if err != nil {
		return fmt.Errorf("db: seed: copy into %s: %w", table, err)
	}
	// The call without values ends the COPY and reports its errors.
	if _, err := stmt.ExecContext(ctx); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("db: seed: copy into %s: %w (was this seed loaded into this database already?)", table, err)
		}
		return fmt.Errorf("db: seed: copy into %s: %w", table, err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("db: seed: copy into %s: %w", table, err)
	}
	return nil
}

// dropSecondaryIndexes drops the indexes of the seeded tables that back no
// constraint (the primary keys and unique constraints stay, and with them the
// foreign keys), and returns the statements that create them again.
func dropSecondaryIndexes(ctx context.Context, tx *sqlx.Tx) ([]string, error) {
	var indexes []struct {
		Name string `db:"name"`
		Def  string `db:"def"`
	}
	err := tx.SelectContext(ctx, &indexes, `SELECT i.indexrelid::regclass::text AS name,
			pg_get_indexdef(i.indexrelid) AS def
		FROM pg_index i
		WHERE i.indrelid = ANY($1::text[]::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
		ORDER BY 1`, pq.Array(seedTables))
	if err != nil {
		return nil, fmt.Errorf("db: seed: read indexes: %w", err)
	}
	defs := make([]string, 0, len(indexes))
	for _, ix := range indexes {
		// The name comes from the catalog, quoted by regclass as needed.
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+ix.Name); err != nil {
			return nil, fmt.Errorf("db: seed: drop index %s: %w", ix.Name, err)
		}
		defs = append(defs, ix.Def)
	}
	return defs, nil
}

// buildIndexes runs the CREATE INDEX statements dropSecondaryIndexes
// returned, then refreshes the planner's statistics of the loaded tables.
func buildIndexes(ctx context.Context, tx *sqlx.Tx, defs []string) error {
	// Index builds sort in memory up to maintenance_work_mem; the trigram
	// indexes of a million users build fastest with a few hundred MB.
	if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
		return fmt.Errorf("db: seed: %w", err)
	}
	for _, def := range defs {
		if _, err := tx.ExecContext(ctx, def); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("db: seed: %w", ErrUserAlreadyExists)
			}
			return fmt.Errorf("db: seed: %s: %w", def, err)
		}
	}
	for _, table := range seedTables {
		if _, err := tx.ExecContext(ctx, `ANALYZE `+table); err != nil {
			return fmt.Errorf("db: seed: analyze %s: %w", table, err)
		}
	}
	return nil
}
