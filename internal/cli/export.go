package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"

	"userpanel/db"
	"userpanel/handlers"
)

// export writes the user list as CSV on standard output, with the user
// table's filters and sort, the same file the panel's export gives. The
// export is recorded in the audit log, naming its actor, before the first
// row is written.
func (a *App) export(ctx context.Context, args []string) error {
	fs := a.newFlagSet("export", "[filters] --actor NAME > users.csv", `
Write the users as CSV on standard output: the columns of the panel's export,
every matching user, one row at a time (a million users never sit in memory).
The filters are the user table's. The export is recorded in the audit log
before the first row.`)
	dbURL := databaseURLFlag(fs)
	actor := actorFlag(fs)
	q := fs.String("q", "", "users whose email or name contains this `text`")
	role := fs.String("role", "", "users holding this `role`")
	banned := fs.String("banned", "", "banned (yes) or not banned (no) users")
	verified := fs.String("verified", "", "verified (yes) or unverified (no) users")
	sortBy := fs.String("sort", db.SortCreatedAt, "created_at, email, name or last_login_at")
	order := fs.String("order", "", "asc or desc (default: the sort's natural order)")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "actor", "USERPANEL_ACTOR"); err != nil {
		return err
	}
	actx, err := actorContext(ctx, *actor)
	if err != nil {
		return err
	}
	p := db.ListParams{Filter: db.Filter{Query: *q, Role: *role}, SortBy: *sortBy, SortOrder: *order}
	if !db.ValidSort(p.SortBy) {
		return usageErrorf("--sort %q: want created_at, email, name or last_login_at", p.SortBy)
	}
	if p.SortOrder == "" {
		p.SortOrder = db.DefaultOrder(p.SortBy)
	}
	if p.SortOrder != db.OrderAsc && p.SortOrder != db.OrderDesc {
		return usageErrorf("--order %q: want asc or desc", p.SortOrder)
	}
	for name, v := range map[string]struct {
		s string
		p **bool
	}{"banned": {*banned, &p.Banned}, "verified": {*verified, &p.Verified}} {
		switch strings.ToLower(v.s) {
		case "":
		case "yes":
			t := true
			*v.p = &t
		case "no":
			f := false
			*v.p = &f
		default:
			return usageErrorf("--%s %q: want yes or no", name, v.s)
		}
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	filters := map[string]any{"q": *q, "role": *role, "banned": *banned, "verified": *verified,
		"sort": p.SortBy, "order": p.SortOrder, "via": "command line"}
	if err := store.RecordExport(actx, filters, -1); err != nil {
		return err
	}
	w := csv.NewWriter(a.Stdout)
	if err := w.Write(handlers.UserCSVHeader()); err != nil {
		return err
	}
	rows := 0
	err = store.ExportUsers(actx, p, func(u db.User) error {
		rows++
		return w.Write(handlers.UserCSVRecord(u))
	})
	w.Flush()
	if err != nil {
		return err
	}
	if err := w.Error(); err != nil {
		return fmt.Errorf("write the CSV: %w", err)
	}
	fmt.Fprintf(a.Stderr, "exported %d users\n", rows)
	return nil
}
