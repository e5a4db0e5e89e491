package cli

// The commands scripts use to act on users, as the panel does: ban, unban,
// revoke-sessions, delete, set-roles and bulk. Each names its actor
// (--actor), who is written to the audit log as "system:cli:NAME".

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"userpanel/db"
)

// actorFlag adds the --actor flag every changing command requires.
func actorFlag(fs *flag.FlagSet) *string {
	return fs.String("actor", "", "who is acting, for the audit log, e.g. your name or the script's (required; env USERPANEL_ACTOR)")
}

// actorContext is ctx acting as the command line on behalf of name.
func actorContext(ctx context.Context, name string) (context.Context, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, usageErrorf("--actor is required: name who is acting, for the audit log")
	}
	return db.WithActor(ctx, db.SystemActor("cli:"+name)), nil
}

// findUser is the user with email, or a clear error.
func findUser(ctx context.Context, store *db.Store, email string) (*db.User, error) {
	if strings.TrimSpace(email) == "" {
		return nil, usageErrorf("--email is required")
	}
	u, err := store.GetUserByEmail(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		return nil, noUser(email)
	}
	return u, err
}

// noUser is the refusal for an email nobody has: not found, exit status 3.
func noUser(email string) error {
	return &db.Error{Code: db.ENotFound, Message: "no user has the email " + strings.TrimSpace(email)}
}

// parseBanDuration reads a ban's length: "permanent", a number of days such
// as "7d", or a Go duration such as "36h". It returns nil for permanent.
func parseBanDuration(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "permanent" {
		return nil, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return nil, usageErrorf("--duration %q: want e.g. 7d, 24h or permanent", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return nil, usageErrorf("--duration %q: want e.g. 7d, 24h or permanent", s)
		}
	}
	t := now.Add(d)
	return &t, nil
}

// oneUserCommand is the shape of ban, unban, revoke-sessions and delete:
// parse the flags, find the user by email, act as the named actor.
func (a *App) oneUserCommand(ctx context.Context, args []string, name, synopsis, description string,
	extra func(fs *flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error)) error {
	fs := a.newFlagSet(name, synopsis, description)
	dbURL := databaseURLFlag(fs)
	email := fs.String("email", "", "the user's email `address` (required)")
	actor := actorFlag(fs)
	act := extra(fs)
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "actor", "USERPANEL_ACTOR"); err != nil {
		return err
	}
	actx, err := actorContext(ctx, *actor)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usageErrorf("--email is required")
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, store, *email)
	if err != nil {
		return err
	}
	msg, err := act(actx, store, u)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.Stdout, msg)
	return nil
}

func (a *App) ban(ctx context.Context, args []string) error {
	return a.oneUserCommand(ctx, args, "ban", "--email EMAIL --reason TEXT [--duration 7d] --actor NAME", `
Ban a user and end all their sessions. --duration is a number of days (7d),
a duration (36h) or permanent (the default).`,
		func(fs *flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error) {
			reason := fs.String("reason", "", "why, for staff and the audit log (required)")
			duration := fs.String("duration", "permanent", "how long: 7d, 24h, permanent")
			return func(ctx context.Context, store *db.Store, u *db.User) (string, error) {
				until, err := parseBanDuration(*duration, time.Now())
				if err != nil {
					return "", err
				}
				if err := store.BanUser(ctx, u.ID, *reason, until); err != nil {
					return "", err
				}
				if until == nil {
					return fmt.Sprintf("banned %s permanently and signed them out everywhere", u.Email), nil
				}
				return fmt.Sprintf("banned %s until %s and signed them out everywhere", u.Email,
					until.UTC().Format("2006-01-02 15:04 UTC")), nil
			}
		})
}

func (a *App) unban(ctx context.Context, args []string) error {
	return a.oneUserCommand(ctx, args, "unban", "--email EMAIL --actor NAME", `Lift a user's ban.`,
		func(*flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error) {
			return func(ctx context.Context, store *db.Store, u *db.User) (string, error) {
				if err := store.UnbanUser(ctx, u.ID); err != nil {
					return "", err
				}
				return "unbanned " + u.Email, nil
			}
		})
}

func (a *App) revokeSessions(ctx context.Context, args []string) error {
	return a.oneUserCommand(ctx, args, "revoke-sessions", "--email EMAIL --actor NAME",
		`Sign a user out everywhere: every application session and panel sign-in ends.`,
		func(*flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error) {
			return func(ctx context.Context, store *db.Store, u *db.User) (string, error) {
				n, err := store.RevokeSessions(ctx, u.ID)
				if err != nil {
					return "", err
				}
				return fmt.Sprintf("signed %s out everywhere; %d sessions ended", u.Email, n), nil
			}
		})
}

func (a *App) deleteUser(ctx context.Context, args []string) error {
	return a.oneUserCommand(ctx, args, "delete", "--email EMAIL --actor NAME", `
Delete a user and, with them, their roles, sessions, OAuth links and
verification tokens. The audit log keeps their email. The last admin who can
sign in cannot be deleted.`,
		func(*flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error) {
			return func(ctx context.Context, store *db.Store, u *db.User) (string, error) {
				if err := store.DeleteUser(ctx, u.ID); err != nil {
					return "", err
				}
				return "deleted " + u.Email, nil
			}
		})
}

func (a *App) setRoles(ctx context.Context, args []string) error {
	return a.oneUserCommand(ctx, args, "set-roles", "--email EMAIL (--role ROLE... | --none) --actor NAME", `
Set a user's roles to exactly those given: --role admin --role support, or
--none to remove them all.`,
		func(fs *flag.FlagSet) func(context.Context, *db.Store, *db.User) (string, error) {
			var roles stringList
			fs.Var(&roles, "role", "a `role` the user should hold; repeat for several")
			none := fs.Bool("none", false, "remove every role")
			return func(ctx context.Context, store *db.Store, u *db.User) (string, error) {
				if len(roles) == 0 && !*none {
					return "", usageErrorf("give --role (repeatable) or --none")
				}
				if len(roles) > 0 && *none {
					return "", usageErrorf("give --role or --none, not both")
				}
				if err := store.SetRoles(ctx, u.ID, roles); err != nil {
					return "", err
				}
				return u.Email + rolesText(roles), nil
			}
		})
}

func (a *App) bulk(ctx context.Context, args []string) error {
	fs := a.newFlagSet("bulk", "--action ACTION (--ids ID,... | filters | --all) [--yes] --actor NAME", `
Act on many users at once, in one transaction, as the panel's bulk actions do.
Without --yes it only says what would happen (who changes, who is skipped and
why) and changes nothing; with --yes it acts.

Actions: ban (--reason, --duration), unban, revoke_sessions, delete,
grant_role and remove_role (--role). Select users by --ids, or by the user
table's filters (--q, --role-filter, --banned, --verified), or --all.`)
	dbURL := databaseURLFlag(fs)
	actor := actorFlag(fs)
	action := fs.String("action", "", "ban, unban, revoke_sessions, delete, grant_role or remove_role (required)")
	var ids stringList
	fs.Var(&ids, "ids", "user `ids`, comma-separated or repeated")
	readFilter := filterFlags(fs, "role-filter")
	all := fs.Bool("all", false, "select every user")
	reason := fs.String("reason", "", "the ban's reason")
	duration := fs.String("duration", "permanent", "the ban's length: 7d, 24h, permanent")
	role := fs.String("role", "", "the `role` to grant or remove")
	yes := fs.Bool("yes", false, "act; without it, only preview")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "actor", "USERPANEL_ACTOR"); err != nil {
		return err
	}
	actx, err := actorContext(ctx, *actor)
	if err != nil {
		return err
	}
	req := db.BulkRequest{Action: db.BulkAction(*action), Reason: *reason, Role: *role}
	filter, err := readFilter()
	if err != nil {
		return err
	}
	filtered := *all || filter.Query != "" || filter.Role != "" || filter.Banned != nil || filter.Verified != nil
	switch {
	case len(ids) > 0 && filtered:
		return usageErrorf("select by --ids or by filters (or --all), not both")
	case len(ids) > 0:
		req.Selection.IDs = ids
	case filtered:
		req.Selection.Filter = &filter
	default:
		return usageErrorf("select users: --ids, a filter (--q, --role-filter, --banned, --verified) or --all")
	}
	if req.Action == db.BulkBan {
		if req.Until, err = parseBanDuration(*duration, time.Now()); err != nil {
			return err
		}
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	var plan db.BulkPlan
	if *yes {
		plan, err = store.Bulk(actx, req)
	} else {
		plan, err = store.PreviewBulk(actx, req)
	}
	if err != nil {
		return err
	}
	a.printPlan(plan, *yes)
	return nil
}

// filterFlags adds the user table's filters to fs (--q, the role filter
// named roleFlag, --banned, --verified) and returns what reads them once
// parsed.
func filterFlags(fs *flag.FlagSet, roleFlag string) func() (db.Filter, error) {
	q := fs.String("q", "", "users whose email or name contains this `text`")
	role := fs.String(roleFlag, "", "users holding this `role`")
	banned := fs.String("banned", "", "banned (yes) or not banned (no) users")
	verified := fs.String("verified", "", "verified (yes) or unverified (no) users")
	return func() (db.Filter, error) {
		f := db.Filter{Query: *q, Role: *role}
		var err error
		if f.Banned, err = yesNoFlag("banned", *banned); err != nil {
			return f, err
		}
		f.Verified, err = yesNoFlag("verified", *verified)
		return f, err
	}
}

// yesNoFlag reads a yes/no filter flag: nil for "", else its value.
func yesNoFlag(name, v string) (*bool, error) {
	switch strings.ToLower(v) {
	case "":
		return nil, nil
	case "yes", "no":
		b := strings.EqualFold(v, "yes")
		return &b, nil
	}
	return nil, usageErrorf("--%s %q: want yes or no", name, v)
}

// printPlan writes what a bulk request did or would do.
func (a *App) printPlan(plan db.BulkPlan, done bool) {
	w := a.Stdout
	if done {
		fmt.Fprintf(w, "%s: %d of %d selected users changed, %d skipped\n", plan.Action, plan.Affected, plan.Matching, plan.SkippedTotal())
	} else {
		fmt.Fprintf(w, "preview (nothing changed; add --yes to act): %s would change %d of %d selected users, %d skipped\n",
			plan.Action, plan.Affected, plan.Matching, plan.SkippedTotal())
		for _, u := range plan.Sample {
			fmt.Fprintf(w, "  would change: %s\n", u.Email)
		}
		if more := plan.Affected - len(plan.Sample); more > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", more)
		}
	}
	for _, s := range plan.Skipped {
		fmt.Fprintf(w, "  skipped: %s (%s)\n", s.Email, s.Reason.Text())
	}
	if more := plan.SkippedTotal() - len(plan.Skipped); more > 0 {
		fmt.Fprintf(w, "  ... and %d more skipped\n", more)
	}
	if plan.Missing > 0 {
		fmt.Fprintf(w, "  %d of the ids are no user\n", plan.Missing)
	}
}
