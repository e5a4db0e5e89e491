package db

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// SeedUser is one demo account for SeedUsers. Unlike NewUser it is written
// as it is, without validation or hashing: the generator is trusted to make
// valid rows, and a million bcrypt hashes would take hours.
type SeedUser struct {
	ID    string
	Email string
	Name  string
	// PasswordHash is a bcrypt hash; empty means an OAuth-only account.
	PasswordHash  string
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   *time.Time
	// Ban is nil for a user who was never banned.
	Ban           *SeedBan
	Roles         []string
	Sessions      []SeedSession
	OAuthAccounts []SeedOAuthAccount
}

// SeedBan is a ban on record; one whose Until has passed is no longer in force.
type SeedBan struct {
	Reason string
	At     time.Time
	Until  *time.Time
}

// SeedSession is one of the application's sessions (a refresh token).
type SeedSession struct {
	TokenHash []byte
	UserAgent string
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

// SeedOAuthAccount links a demo user to an identity at an OAuth provider.
type SeedOAuthAccount struct {
	Provider       string
	ProviderUserID string
	Email          string
	CreatedAt      time.Time
}

// SeedOptions tunes SeedUsers.
type SeedOptions struct {
	// BatchSize is the number of users per COPY; 0 means 10,000.
	BatchSize int
	// Progress, if set, is called after each batch with the number of users
	// written so far.
	Progress func(written int)
	// Stage, if set, hears of the steps after the last batch that take a
	// while, such as "building indexes".
	Stage func(step string)
	// Details are added to the audit row that sums the load up (the seed,
	// say).
	Details map[string]any
	// Expected is how many users the sequence will yield, if known. A load
	// of at least rebuildMin users that outnumbers the users already there
	// drops the tables' secondary indexes and builds them again afterwards,
	// which is several times faster than updating them row by row; the
	// tables are then locked until the load commits.
	Expected int
}

// rebuildMin is the smallest load that rebuilds the indexes.
const rebuildMin = 50_000

// seedTables are the tables SeedUsers loads, parents first.
var seedTables = []string{"users", "user_roles", "refresh_tokens", "oauth_accounts"}

// SeedResult counts what SeedUsers wrote.
type SeedResult struct {
	Users    int
	Verified int
	// Banned counts the bans in force; a demo ban may have run out already.
	Banned        int
	Staff         int
	Sessions      int
	OAuthAccounts int
}

// SeedUsers bulk-loads users with PostgreSQL's COPY, in one transaction: a
// failed or cancelled load leaves nothing behind. It writes one audit row for
// the whole load, as the context's actor, and fires no events (a million
// user_created events would help nobody).
func (s *Store) SeedUsers(ctx context.Context, users iter.Seq[SeedUser], opts SeedOptions) (SeedResult, error) {
	actor, err := requireActor(ctx)
	if err != nil {
		return SeedResult{}, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 10_000
	}
	var res SeedResult
	// The transaction does not end by itself when ctx is cancelled: lib/pq
	// would then roll back while its COPY reader still owns the connection
	// (a data race). Statements take ctx instead, and a cancelled load stops
	// at the next row, closes its COPY, and rolls back in order.
	err = s.withTx(context.WithoutCancel(ctx), func(tx *sqlx.Tx, _ *pending) error {
		// The load is one long transaction of our own: a commit that returns
		// before the WAL is flushed is safe (a crash loses the whole load,
		// never part of it) and spares the wait.
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("db: seed: %w", err)
		}
		// The seed counts its users' sign-in methods itself, a batch at a
		// time (copyBatch), instead of the OAuth trigger's work per statement.
		if _, err := tx.ExecContext(ctx, `SET LOCAL userpanel.seeding = 'on'`); err != nil {
			return fmt.Errorf("db: seed: %w", err)
		}
		rebuilding := false
		if opts.Expected >= rebuildMin {
			total, err := s.count(ctx, Filter{})
			if err != nil {
				return err
			}
			rebuilding = int64(opts.Expected) >= total
		}
		if rebuilding {
			// Dropping the indexes takes the seeded tables whole. A writer
			// takes users before the rollups (its triggers write them), so
			// the load takes the tables first too: writers then wait for it
			// at their first statement, rather than holding users while
			// they wait for a rollup the load holds (a deadlock).
			if _, err := tx.ExecContext(ctx, `LOCK TABLE `+strings.Join(seedTables, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("db: seed: lock the tables: %w", err)
			}
		} else {
			// The users trigger adds each batch's search trigrams here while
			// seeding (schema.sql, search_trigrams_on_change); they are summed
			// into search_trigrams once, below.
			if _, err := tx.ExecContext(ctx, `CREATE TEMPORARY TABLE seed_trigrams (trigram text NOT NULL, users bigint NOT NULL)
				ON COMMIT DROP`); err != nil {
				return fmt.Errorf("db: seed: %w", err)
			}
		}
		// The load is many statements, each of which adds to the per-day
		// rollups (user_days) and the search totals (search_trigrams)
		// through the users triggers. Other writers lock
		// the days they change in day order within one statement, but a load
		// spread over many statements cannot keep that order: it takes the
		// whole tables first (with user_counts, which every insert and delete
		// changes too), so that writers wait for it instead of
		// deadlocking with it. Readers (the dashboard) are not blocked.
		// role_counts comes first: a user's delete locks it before
		// user_counts (the cascade to user_roles fires first).
		if _, err := tx.ExecContext(ctx, `LOCK TABLE role_counts, user_counts, user_days, user_hours, signin_methods, search_trigrams IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("db: seed: lock the rollups: %w", err)
		}
		roleIDs, err := allRoleIDs(ctx, tx)
		if err != nil {
			return err
		}
		var rebuild []string
		if rebuilding {
			if rebuild, err = dropSecondaryIndexes(ctx, tx); err != nil {
				return err
			}
			// A load that outnumbers the table also skips the days and
			// the search totals batch by batch (the triggers step aside,
			// schema.sql) and recounts them once, below: one pass over
			// the table, the trigrams' in parallel, costs a third of
			// what the batches' upserts did. The rollups' locks above
			// keep the recount exact.
			if _, err := tx.ExecContext(ctx, `SET LOCAL userpanel.seed_recount = 'on'`); err != nil {
				return fmt.Errorf("db: seed: %w", err)
			}
		}
		for batch := range inBatches(users, opts.BatchSize) {
			if err := copyBatch(ctx, tx, batch, roleIDs, s.now(), &res); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(res.Users)
			}
		}
		if !rebuilding {
			if _, err := tx.ExecContext(ctx, `INSERT INTO search_trigrams AS s (trigram, users)
				SELECT trigram, sum(users) FROM seed_trigrams GROUP BY trigram ORDER BY trigram
				ON CONFLICT (trigram) DO UPDATE SET users = s.users + EXCLUDED.users`); err != nil {
				return fmt.Errorf("db: seed: search totals: %w", err)
			}
		} else {
			if opts.Stage != nil {
				opts.Stage("counting")
			}
			if _, err := tx.ExecContext(ctx, `SELECT user_days_recount(), search_trigrams_recount()`); err != nil {
				return fmt.Errorf("db: seed: recount the days and the search totals: %w", err)
			}
			if opts.Stage != nil {
				opts.Stage("building indexes")
			}
			if err := buildIndexes(ctx, tx, rebuild); err != nil {
				return err
			}
		}
		details := maps.Clone(opts.Details)
		if details == nil {
			details = map[string]any{}
		}
		details["users"] = res.Users
		details["verified"] = res.Verified
		details["banned"] = res.Banned
		details["staff"] = res.Staff
		details["sessions"] = res.Sessions
		details["oauth_accounts"] = res.OAuthAccounts
		return writeAudit(ctx, tx, actor, ActionSeed, "", "", details)
	})
	if err != nil {
		return SeedResult{}, err
	}
	return res, nil
}

// inBatches groups users into batches of size. The users are made on a
// goroutine of their own, one batch ahead, so that making them overlaps with
// the database taking the previous batch in.
func inBatches(users iter.Seq[SeedUser], size int) iter.Seq[[]SeedUser] {
	return func(yield func([]SeedUser) bool) {
		batches := make(chan []SeedUser, 1)
		stop := make(chan struct{})
		go func() {
			defer close(batches)
			batch := make([]SeedUser, 0, size)
			for u := range users {
				batch = append(batch, u)
				if len(batch) < size {
					continue
				}
				select {
				case batches <- batch:
				case <-stop:
					return
				}
				batch = make([]SeedUser, 0, size)
			}
			if len(batch) > 0 {
				select {
				case batches <- batch:
				case <-stop:
				}
			}
		}()
		// Whatever ends the loop, the maker has stopped when we return.
		defer func() {
			close(stop)
			for range batches {
			}
		}()
		for batch := range batches {
			if !yield(batch) {
				return
			}
		}
	}
}

func allRoleIDs(ctx context.Context, tx *sqlx.Tx) (map[string]int, error) {
	var roles []Role
	if err := tx.SelectContext(ctx, &roles, `SELECT id, name, description FROM roles`); err != nil {
		return nil, fmt.Errorf("db: seed: read roles: %w", err)
	}
	ids := make(map[string]int, len(roles))
	for _, r := range roles {
		ids[r.Name] = r.ID
	}
	return ids, nil
}

// EachEmail calls fn with the lower-cased email of every user, so that a
// generator of demo users can steer clear of the addresses in use.
func (s *Store) EachEmail(ctx context.Context, fn func(email string)) error {
	rows, err := s.db.QueryContext(ctx, `SELECT lower(email) FROM users`)
	if err != nil {
		return fmt.Errorf("db: read emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var email string
		if err := rows.Scan(&email); err != nil {
			return fmt.Errorf("db: read emails: %w", err)
		}
		fn(email)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: read emails: %w", err)
	}
	return nil
}
