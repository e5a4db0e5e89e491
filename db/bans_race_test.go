package db_test

import (
	"errors"
	"sync"
	"testing"

	"userpanel/db"
)

// A staff member deleted while banning someone: the ban and the delete must
// each either finish or be refused cleanly — never a deadlock, never a
// foreign-key error.
func TestBanByDeletedActor(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	admin := staff(t, s, "admin@example.com", "admin")
	other := staff(t, s, "other-admin@example.com", "admin")

	t.Run("ErrActorGone", func(t *testing.T) {
		gone := staff(t, s, "gone@example.com", "support")
		target := insertUser(t, s, fixture{Email: "target@example.com"})
		if err := s.DeleteUser(asUser(admin), gone.ID); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		err := s.BanUser(asUser(gone), target.ID, "spam", nil)
		wantErr(t, err, db.ErrActorGone)
		if got, err := s.LoadUser(sysCtx(), target.ID); err != nil || got.Banned {
			t.Fatalf("target after a refused ban = %+v, %v", got, err)
		}
	})

	t.Run("ConcurrentBanAndDelete", func(t *testing.T) {
		for i := 0; i < 10; i++ {
			banner := staff(t, s, "banner"+string(rune('a'+i))+"@example.com", "support")
			target := insertUser(t, s, fixture{Email: "victim" + string(rune('a'+i)) + "@example.com"})
			var wg sync.WaitGroup
			var banErr, delErr error
			wg.Add(2)
			go func() { defer wg.Done(); banErr = s.BanUser(asUser(banner), target.ID, "spam", nil) }()
			go func() { defer wg.Done(); delErr = s.DeleteUser(asUser(other), banner.ID) }()
			wg.Wait()
			if delErr != nil {
				t.Fatalf("DeleteUser of the banner: %v", delErr)
			}
			if banErr != nil && !errors.Is(banErr, db.ErrActorGone) {
				t.Fatalf("BanUser racing the banner's deletion: %v, want nil or ErrActorGone", banErr)
			}
			got, err := s.LoadUser(sysCtx(), target.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Banned != (banErr == nil) {
				t.Fatalf("target banned = %v after BanUser returned %v", got.Banned, banErr)
			}
		}
	})
}
