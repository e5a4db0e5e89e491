package db_test

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// defaultParallel is how many tests of this package run at once unless
// -parallel says otherwise.
const defaultParallel = 8

// TestMain raises the default of -parallel. It defaults to GOMAXPROCS, but
// these tests spend their time waiting on PostgreSQL (each creates and drops
// its own database), not computing: on a two-CPU machine, eight at a time
// take a third of the wall time of two. An explicit -parallel still wins.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if p := flag.Lookup("test.parallel"); p != nil && !explicit {
		if err := p.Value.Set(strconv.Itoa(defaultParallel)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
