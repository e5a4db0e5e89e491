package db

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// RunMigrationFiles runs the numbered files alone, without schema.sql's
// bootstrap, so that tests can replay the whole chain from version 1.
var RunMigrationFiles = runMigrations

// TestPasswordCost checks the cost a program hashes at (the tests lower it)
// and that the dummy hash for unknown emails costs as much.
func TestPasswordCost(t *testing.T) {
	if bcryptCost < 10 {
		t.Fatalf("bcryptCost %d: too cheap to guess against", bcryptCost)
	}
	if cost, err := bcrypt.Cost(dummyHash); err != nil || cost != bcryptCost {
		t.Fatalf("dummyHash cost %d (%v), want bcryptCost %d", cost, err, bcryptCost)
	}
	if cost, err := bcrypt.Cost(dummyHashMinCost); err != nil || cost != bcrypt.MinCost {
		t.Fatalf("dummyHashMinCost cost %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
	// A program hashes at bcryptCost, and an unknown email costs as much.
	if got := noPasswordHash(); hashCost.Load() == bcryptCost && string(got) != string(dummyHash) {
		t.Fatal("at the program's cost, an unknown email is not checked against dummyHash")
	}
}
