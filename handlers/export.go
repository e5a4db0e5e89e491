package handlers

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"userpanel/db"
)

// exportFlushEvery is how many rows are written between two flushes: often
// enough that a large export starts downloading at once and never sits in
// memory, rarely enough that it is not a write per row.
const exportFlushEvery = 500

// exportBuffer is how much of an export is written to the socket at once.
const exportBuffer = 64 << 10

// recordExportTimeout bounds writing an export's audit row.
const recordExportTimeout = 5 * time.Second

// exportHeader is the CSV's first line.
var exportHeader = []string{"id", "email", "name", "roles", "email_verified", "banned", "ban_reason",
	"banned_until", "created_at", "last_login_at"}

// exportURL is the CSV export of the table q shows: its filters and sort,
// every page.
func exportURL(q userListQuery) string {
	q.Page, q.PerPage = 1, defaultPerPage
	return q.url("/users/export.csv")
}

// exportUsers records the export in the audit log, then streams the
// filtered, sorted user list as CSV. No byte leaves before the audit row is
// committed: an export that cannot be recorded is refused.
func (h *Handler) exportUsers(c echo.Context) error {
	ctx := c.Request().Context()
	roles, err := h.roleNames(ctx)
	if err != nil {
		return err
	}
	q := parseUserListQuery(c.QueryParams(), roles)
	p := q.listParams()
	if err := h.store.RecordExport(ctx, exportFilters(q), -1); err != nil {
		return fmt.Errorf("export users: record the export: %w", err)
	}

	hdr := c.Response().Header()
	hdr.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hdr.Set(echo.HeaderContentDisposition,
		fmt.Sprintf(`attachment; filename="users-%s.csv"`, time.Now().UTC().Format("20060102-150405")))
	hdr.Set(echo.HeaderCacheControl, "no-store")

	// csv's own buffer is 4 KB, and each of its flushes would be a write
	// to the socket: a larger buffer between them makes a million rows a
	// sixteenth of the writes.
	bw := bufio.NewWriterSize(c.Response(), exportBuffer)
	w := csv.NewWriter(bw)
	rows := 0
	write := func(rec []string) error {
		if rows == 0 {
			// The header goes out with the first row, so that a refused
			// filter still gets a designed error page.
			c.Response().WriteHeader(http.StatusOK)
			if err := w.Write(exportHeader); err != nil {
				return err
			}
		}
		return w.Write(rec)
	}
	// The list is read with the export's own, longer deadline.
	exportCtx, cancel := h.exportContext(c)
	defer cancel()
	err = h.store.ExportUsers(exportCtx, p, func(u db.ExportedUser) error {
		if err := write(exportRecord(u)); err != nil {
			return err
		}
		rows++
		if rows%exportFlushEvery == 0 {
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			c.Response().Flush()
		}
		return nil
	})
	if err != nil && rows == 0 && !c.Response().Committed {
		hdr.Del(echo.HeaderContentDisposition)
		return fmt.Errorf("export users: %w", err)
	}
	if err == nil && rows == 0 {
		c.Response().WriteHeader(http.StatusOK)
		err = w.Write(exportHeader)
	}
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		// The status is sent: all that is left is to log a cut export.
		h.log.WarnContext(ctx, "export users cut short", slog.Any("err", err), slog.Int("rows", rows))
	}
	return nil
}

// exportFilters is what the audit row says of an export: its query, minus
// paging.
func exportFilters(q userListQuery) map[string]any {
	f := map[string]any{}
	for k, v := range q.withPage(1).values() {
		if k != "per_page" {
			f[k] = v[0]
		}
	}
	f["sort"], f["order"] = q.Sort, q.Order
	return f
}

// exportRecord is one user as a CSV line.
func exportRecord(u db.ExportedUser) []string {
	return []string{
		u.ID,
		csvSafe(u.Email),
		csvSafe(u.Name),
		csvSafe(strings.Join(u.Roles, " ")),
		strconv.FormatBool(u.EmailVerified),
		strconv.FormatBool(u.Banned),
		csvSafe(u.BanReason),
		csvTime(u.BannedUntil),
		u.CreatedAt.UTC().Format(time.RFC3339),
		csvTime(u.LastLoginAt),
	}
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe keeps a spreadsheet from reading a value as a formula (CSV
// injection): a value starting with =, +, -, @, tab or carriage return gets
// a leading single quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// UserCSVHeader is the first line of a user export, for other clients of
// db.ExportUsers (the command line's export) to write the same file.
func UserCSVHeader() []string { return slices.Clone(exportHeader) }

// UserCSVRecord is one user as a line of the export, formula-safe.
func UserCSVRecord(u db.ExportedUser) []string { return exportRecord(u) }
