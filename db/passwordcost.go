package db

import (
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
)

// hashCost is the bcrypt work factor HashPassword uses: bcryptCost, unless a
// test lowered it with UseMinPasswordCostForTests.
var hashCost atomic.Int32

func init() { hashCost.Store(bcryptCost) }

// UseMinPasswordCostForTests makes HashPassword (and so CreateUser) hash at
// bcrypt's minimum cost for the rest of the process. It is for tests only:
// under the race detector a full-cost hash takes seconds, a minimum-cost one
// a millisecond. internal/testdb calls it for every test database; a program
// must never call it. Sign-in reads the cost from the stored hash, so it
// checks either kind.
func UseMinPasswordCostForTests() { hashCost.Store(int32(bcrypt.MinCost)) }
