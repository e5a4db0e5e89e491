package db_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lib/pq"
)

// TestSignInMethodsExact: the trigger-kept sign-in method counts equal a
// full recount after a concurrent mix of linking and unlinking OAuth
// accounts (two at one provider for one user among them), removing
// passwords and deleting users.
func TestSignInMethodsExact(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var fs []fixture
	for i := 0; i < 40; i++ {
		fs = append(fs, fixture{Email: fmt.Sprintf("m%02d@methods.test", i)})
	}
	fs = insertUsers(t, s, fs)
	providers := []string{"google", "github", "apple"}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 60; i++ {
				u := fs[rng.IntN(len(fs))]
				p := providers[rng.IntN(len(providers))]
				var err error
				switch rng.IntN(10) {
				case 0, 1, 2, 3, 4:
					_, err = s.DB().Exec(`INSERT INTO oauth_accounts (user_id, provider, provider_user_id)
						SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)`, u.ID, p, fmt.Sprintf("%d-%d", w, i))
				case 5, 6:
					_, err = s.DB().Exec(`DELETE FROM oauth_accounts WHERE id = (
						SELECT id FROM oauth_accounts WHERE user_id = $1 ORDER BY random() LIMIT 1)`, u.ID)
				case 7:
					_, err = s.DB().Exec(`DELETE FROM oauth_accounts WHERE user_id = $1 AND provider = $2`, u.ID, p)
				case 8:
					_, err = s.DB().Exec(`UPDATE users SET password_hash = NULL WHERE id = $1`, u.ID)
				case 9:
					if rng.IntN(4) == 0 {
						_, err = s.DB().Exec(`DELETE FROM users WHERE id = $1`, u.ID)
					}
				}
				var pqErr *pq.Error
				if errors.As(err, &pqErr) && pqErr.Code == "23503" {
					continue // linked to a user another worker just deleted
				}
				if errors.As(err, &pqErr) && pqErr.Code == "40P01" {
					// Unlinking an account while its user is deleted locks
					// the two rows in opposite orders; PostgreSQL rolls one
					// back, and the counts stay exact.
					continue
				}
				if err != nil {
					t.Errorf("worker %d step %d: %v", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	var mismatches []string
	if err := s.DB().Select(&mismatches, `
		WITH truth AS (
			SELECT 'password' AS method, count(*) AS users FROM users u
			WHERE password_hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id)
			UNION ALL
			SELECT provider, count(DISTINCT user_id) FROM oauth_accounts GROUP BY provider
		)
		SELECT COALESCE(t.method, m.method) || ': kept ' || COALESCE(m.users, 0) || ', counted ' || COALESCE(t.users, 0)
		FROM truth t FULL JOIN signin_methods m ON m.method = t.method
		WHERE COALESCE(t.users, 0) <> COALESCE(m.users, 0)
		UNION ALL
		SELECT 'oauth_links of ' || u.email FROM users u
		WHERE u.oauth_links <> (SELECT count(*) FROM oauth_accounts o WHERE o.user_id = u.id)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range mismatches {
		t.Error(m)
	}
	st, err := s.Stats(sysCtx())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range st.ByMethod {
		if m.Method == "password" && i != 0 {
			t.Errorf("ByMethod %v: want the password-only count first", st.ByMethod)
		}
		if m.Users <= 0 {
			t.Errorf("ByMethod %v lists an empty method", st.ByMethod)
		}
	}
}
