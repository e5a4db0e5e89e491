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
