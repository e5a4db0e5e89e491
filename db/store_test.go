package db_test

import (
	"context"
	"testing"

	"userpanel/db"
	"userpanel/internal/testdb"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, err := db.Open(ctx, testdb.URL(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		n, err := s.CountUsers(ctx, db.Filter{})
		if err != nil || n != 0 {
			t.Fatalf("CountUsers on a fresh database = %d, %v", n, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(ctx); err == nil {
			t.Fatal("Ping after Close succeeded")
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		// Port 1 on the loopback refuses at once.
		if _, err := db.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
			t.Fatal("Open of an unreachable server succeeded")
		}
		if _, err := db.Open(ctx, "mysql://not-a-postgres-url"); err == nil {
			t.Fatal("Open of a non-postgres URL succeeded")
		}
	})
}

// TestPoolSize: the pool opens DefaultMaxConns connections unless told a
// number, and never fewer than 4 by default.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	url := testdb.URL(t)
	for _, c := range []struct {
		asked, want int
	}{{0, db.DefaultMaxConns()}, {3, 3}} {
		s, err := db.OpenWithTimeouts(context.Background(), url, db.Timeouts{MaxConns: c.asked})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.DB().Stats().MaxOpenConnections; got != c.want {
			t.Errorf("MaxConns %d: the pool opens %d connections, want %d", c.asked, got, c.want)
		}
		s.Close()
	}
	if db.DefaultMaxConns() < 4 {
		t.Errorf("DefaultMaxConns() = %d, want at least 4", db.DefaultMaxConns())
	}
}
