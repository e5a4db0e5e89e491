package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"userpanel/db"
	"userpanel/internal/demo"
)

func (a *App) seed(ctx context.Context, args []string) error {
	fs := a.newFlagSet("seed", "[--users N] [--seed S] [--if-empty] [--force]", `
Load N realistic demo users: names from many cultures, unique emails at
reserved example domains, sign-ups growing over two years, about 70%
verified, 1% banned, a few support and manager staff, sessions and OAuth
links. The same --seed gives the same users. Every demo user's password is
"`+demo.Password+`", so that you can sign in as a seeded staff member.

The load is one transaction (COPY): interrupted, it leaves nothing behind.
It writes one audit row, as system:seed.

Because demo staff share a public password, seed refuses a database that
holds any user it did not make (another address, another password) unless
--force is given: never seed a database real people use.`)
	dbURL := databaseURLFlag(fs)
	n := fs.Int("users", 2000, "make `N` users")
	seed := fs.Uint64("seed", 1, "seed `S` of the random stream: the same seed makes the same users")
	ifEmpty := fs.Bool("if-empty", false, "do nothing if the database has users other than admins")
	force := fs.Bool("force", false, "seed even a database that holds users other than demo users")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL"); err != nil {
		return err
	}
	if *n < 1 {
		return usageErrorf("--users must be at least 1")
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()

	if *ifEmpty {
		total, err := store.CountUsers(ctx, db.Filter{})
		if err != nil {
			return err
		}
		admins, err := store.CountUsers(ctx, db.Filter{Role: db.RoleAdmin})
		if err != nil {
			return err
		}
		if total > admins {
			fmt.Fprintf(a.Stdout, "The database has %d users already: not seeding.\n", total)
			return nil
		}
	}

	if !*force {
		foreign, err := store.CountForeignUsers(ctx, demo.Domains(), demo.PasswordHash)
		if err != nil {
			return err
		}
		if foreign > 0 {
			return fmt.Errorf("the database holds %d users that are not demo users: refusing to add demo staff "+
				"whose password (%q) is public; pass --force if this database is only for trying the panel", foreign, demo.Password)
		}
	}

	start := time.Now()
	gen := demo.New(*seed, start)
	if err := store.EachEmail(ctx, gen.Reserve); err != nil {
		return err
	}
	bar := a.progressBar(*n, start)
	res, err := store.SeedUsers(db.WithActor(ctx, db.SystemActor("seed")), gen.Users(*n), db.SeedOptions{
		Progress: bar.update,
		Stage:    bar.stage,
		Details:  map[string]any{"seed": *seed},
		Expected: *n,
	})
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Seeded %d users in %s (seed %d): %d verified, %d banned, %d staff, %d sessions, %d OAuth accounts. Their password is %q.\n",
		res.Users, time.Since(start).Round(10*time.Millisecond), *seed, res.Verified, res.Banned, res.Staff,
		res.Sessions, res.OAuthAccounts, demo.Password)
	return nil
}

// progress draws `[#####.....] 420000/1000000 12s` on standard error when
// that is a terminal, and nothing otherwise.
type progress struct {
	w     io.Writer
	total int
	start time.Time
	last  time.Time
	drawn bool
}

func (a *App) progressBar(total int, start time.Time) *progress {
	p := &progress{total: total, start: start}
	if _, tty := isTerminal(a.Stderr); tty {
		p.w = a.Stderr
	}
	return p
}

const barWidth = 30

func (p *progress) update(done int) {
	if p.w == nil || (time.Since(p.last) < 100*time.Millisecond && done < p.total) {
		return
	}
	p.last = time.Now()
	filled := barWidth * done / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		done, p.total, time.Since(p.start).Round(time.Second))
	p.drawn = true
}

// stage names the step after the last batch, after the full bar.
func (p *progress) stage(step string) {
	if p.w != nil {
		p.update(p.total)
		fmt.Fprintf(p.w, " %s...", step)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
