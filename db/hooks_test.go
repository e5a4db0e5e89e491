package db

// Hooks for the tests of package db_test.

// HashesComputed is how many password hashes the store has checked.
func (s *Store) HashesComputed() int64 { return s.hashes.total.Load() }

// PeakHashes is the most password hashes the store has checked at once.
func (s *Store) PeakHashes() int64 { return s.hashes.peak.Load() }
