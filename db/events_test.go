package db_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"userpanel/db"
)

// recorder collects events and, for each, what a fresh query saw when the
// handler ran.
type recorder struct {
	mu     sync.Mutex
	events []db.EventData
	seen   []string
}

func (r *recorder) add(ev db.EventData, seen string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.seen = append(r.seen, seen)
}

func (r *recorder) take() ([]db.EventData, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev, seen := r.events, r.seen
	r.events, r.seen = nil, nil
	return ev, seen
}

var allEvents = []db.Event{
	db.EventUserCreated, db.EventUserUpdated, db.EventUserBanned,
	db.EventUserUnbanned, db.EventRolesChanged, db.EventUserDeleted,
}

// describe reads the user from a fresh query, outside any transaction of
// the store: it sees a change only once that change has committed.
func describe(s *db.Store, id string) string {
	var row struct {
		Name   string `db:"name"`
		Banned bool   `db:"banned"`
		Roles  string `db:"roles"`
	}
	err := s.DB().Get(&row, `SELECT name, banned, array_to_string(ARRAY(SELECT r.name FROM user_roles ur
		JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id ORDER BY r.name), ',') AS roles
		FROM users u WHERE id = $1`, id)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("name=%s banned=%v roles=%s", row.Name, row.Banned, row.Roles)
}

func TestEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	actx := asUser(admin)
	rec := &recorder{}
	for _, ev := range allEvents {
		s.On(ev, func(d db.EventData) {
			if d.Event == db.EventUserDeleted {
				_, err := s.GetUser(sysCtx(), d.UserID)
				rec.add(d, fmt.Sprintf("GetUser: %v", err))
				return
			}
			rec.add(d, describe(s, d.UserID))
		})
	}
	// CreateUser's user_created event, and the absence of one for a
	// duplicate, are checked in TestCreateUser, which keeps the package's
	// bcrypt calls few.
	f := insertUser(t, s, fixture{Email: "events@example.com", Name: "Ev", Roles: []string{"support"}})
	u := &db.User{ID: f.ID, Email: f.Email}

	expectOne := func(t *testing.T, want db.Event, wantSeen string) {
		t.Helper()
		evs, seen := rec.take()
		if len(evs) != 1 {
			t.Fatalf("%d events %v, want exactly one %s", len(evs), evs, want)
		}
		ev := evs[0]
		if ev.Event != want || ev.UserID != u.ID || ev.Email != u.Email || ev.Actor.ID != admin.ID ||
			ev.Actor.Email != admin.Email || time.Since(ev.At) > time.Minute {
			t.Fatalf("event = %+v, want %s for %s/%s by %s", ev, want, u.ID, u.Email, admin.Email)
		}
		if seen[0] != wantSeen {
			t.Fatalf("the handler saw %q, want %q: it ran before the commit", seen[0], wantSeen)
		}
	}
	expectNone := func(t *testing.T) {
		t.Helper()
		if evs, _ := rec.take(); len(evs) != 0 {
			t.Fatalf("events %+v for a change that did not happen", evs)
		}
	}

	t.Run("user_updated", func(t *testing.T) {
		if _, err := s.UpdateUser(actx, u.ID, db.UserUpdate{Name: ptr("Renamed")}); err != nil {
			t.Fatal(err)
		}
		expectOne(t, db.EventUserUpdated, "name=Renamed banned=false roles=support")
	})
	t.Run("user_updated/NewEmail", func(t *testing.T) {
		got, err := s.UpdateUser(actx, u.ID, db.UserUpdate{Email: ptr("events2@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		u = got // the event carries the new email
		expectOne(t, db.EventUserUpdated, "name=Renamed banned=false roles=support")
	})
	t.Run("roles_changed", func(t *testing.T) {
		if err := s.SetRoles(actx, u.ID, []string{"manager", "admin"}); err != nil {
			t.Fatal(err)
		}
		expectOne(t, db.EventRolesChanged, "name=Renamed banned=false roles=admin,manager")
	})
	t.Run("user_banned", func(t *testing.T) {
		if err := s.BanUser(actx, u.ID, "spam", nil); err != nil {
			t.Fatal(err)
		}
		expectOne(t, db.EventUserBanned, "name=Renamed banned=true roles=admin,manager")
	})
	t.Run("user_unbanned", func(t *testing.T) {
		if err := s.UnbanUser(actx, u.ID); err != nil {
			t.Fatal(err)
		}
		expectOne(t, db.EventUserUnbanned, "name=Renamed banned=false roles=admin,manager")
	})
	t.Run("NoEventWithoutAChange", func(t *testing.T) {
		if err := s.UnbanUser(actx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateUser(actx, u.ID, db.UserUpdate{Name: ptr("Renamed")}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRoles(actx, u.ID, []string{"admin", "manager"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeSessions(actx, u.ID); err != nil {
			t.Fatal(err)
		}
		expectNone(t)
	})
	t.Run("NoEventForARolledBackChange", func(t *testing.T) {
		_, err := s.UpdateUser(actx, u.ID, db.UserUpdate{Email: ptr("ADMIN@example.com")})
		wantErr(t, err, db.ErrUserAlreadyExists)
		// Leave admin@ the last active admin, then try to remove it.
		mustExec(t, s, `DELETE FROM user_roles WHERE user_id = $1`, u.ID)
		wantErr(t, s.SetRoles(sysCtx(), admin.ID, nil), db.ErrLastAdmin)
		wantErr(t, s.BanUser(sysCtx(), admin.ID, "x", nil), db.ErrLastAdmin)
		wantErr(t, s.DeleteUser(sysCtx(), admin.ID), db.ErrLastAdmin)
		wantValidation(t, s.BanUser(actx, u.ID, "", nil), "reason")
		expectNone(t)
	})
	t.Run("user_deleted", func(t *testing.T) {
		if err := s.DeleteUser(actx, u.ID); err != nil {
			t.Fatal(err)
		}
		expectOne(t, db.EventUserDeleted, fmt.Sprintf("GetUser: %v", db.ErrNotFound))
	})
}

func TestEventHandlerPanics(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var calls []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, s)
	}
	s.On(db.EventUserUpdated, func(db.EventData) { note("first"); panic("handler bug") })
	s.On(db.EventUserUpdated, func(db.EventData) { note("second") })
	s.On(db.EventUserUpdated, func(db.EventData) { panic(errors.New("another bug")) })
	u := insertUser(t, s, fixture{Email: "panic@example.com"})

	got, err := s.UpdateUser(sysCtx(), u.ID, db.UserUpdate{Name: ptr("after panic")})
	if err != nil || got.Name != "after panic" {
		t.Fatalf("UpdateUser with a panicking handler = %v, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(calls) != "[first second]" {
		t.Fatalf("handlers ran %v, want [first second]: a panic must not stop the others", calls)
	}
	if fresh := describe(s, u.ID); fresh != "name=after panic banned=false roles=" {
		t.Fatalf("after the panic the user reads %q", fresh)
	}
}

func TestEventsConcurrentRegistration(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	users := insertUsers(t, s, []fixture{{Email: "c1@example.com"}, {Email: "c2@example.com"}, {Email: "c3@example.com"}, {Email: "c4@example.com"}})
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(2)
		go func() {
			defer wg.Done()
			s.On(db.EventUserBanned, func(db.EventData) { mu.Lock(); count++; mu.Unlock() })
		}()
		go func() {
			defer wg.Done()
			if err := s.BanUser(sysCtx(), u.ID, fmt.Sprint("reason ", i), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Every handler is registered now: one more ban reaches all four.
	mu.Lock()
	before := count
	mu.Unlock()
	if err := s.UnbanUser(sysCtx(), users[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.BanUser(sysCtx(), users[0].ID, "again", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if count-before != 4 {
		t.Fatalf("one ban reached %d handlers, want 4", count-before)
	}
}
