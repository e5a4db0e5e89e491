package cli

import (
	"context"
	"encoding/csv"
	"fmt"

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
	readFilter := filterFlags(fs, "role")
	sortBy := fs.String("sort", db.SortCreatedAt, "created_at, email, name or last_login_at")
	order := fs.String("order", "", "asc or desc (default: the sort's natural order)")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "actor", "USERPANEL_ACTOR"); err != nil {
		return err
	}
	actx, err := actorContext(ctx, *actor)
	if err != nil {
		return err
	}
	filter, err := readFilter()
	if err != nil {
		return err
	}
	p := db.ListParams{Filter: filter, SortBy: *sortBy, SortOrder: *order}
	if !db.ValidSort(p.SortBy) {
		return usageErrorf("--sort %q: want created_at, email, name or last_login_at", p.SortBy)
	}
	if p.SortOrder == "" {
		p.SortOrder = db.DefaultOrder(p.SortBy)
	}
	if p.SortOrder != db.OrderAsc && p.SortOrder != db.OrderDesc {
		return usageErrorf("--order %q: want asc or desc", p.SortOrder)
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	filters := map[string]any{"q": filter.Query, "role": filter.Role, "banned": filter.Banned, "verified": filter.Verified,
		"sort": p.SortBy, "order": p.SortOrder, "via": "command line"}
	if err := store.RecordExport(actx, filters, -1); err != nil {
		return err
	}
	w := csv.NewWriter(a.Stdout)
	if err := w.Write(handlers.UserCSVHeader()); err != nil {
		return err
	}
	rows := 0
	err = store.ExportUsers(actx, p, func(u db.ExportedUser) error {
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
