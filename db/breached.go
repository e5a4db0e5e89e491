package db

// The list of commonly breached passwords that CheckPassword refuses.

import (
	"embed"
	"encoding/json"
	"strings"
	"sync"
)

// breachedFiles is db/breached, where `make assets` copies passwords.json
// from the npm package @zxcvbn-ts/language-common (see its README.md).
//
//go:embed breached
var breachedFiles embed.FS

var (
	breachedOnce sync.Once
	breachedSet  map[string]struct{}
)

// breached returns the lower-cased breached passwords, read once.
func breached() map[string]struct{} {
	breachedOnce.Do(func() {
		breachedSet = map[string]struct{}{}
		b, err := breachedFiles.ReadFile("breached/passwords.json")
		if err != nil {
			return // not copied in: BreachedPasswords says 0
		}
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return
		}
		for _, p := range list {
			breachedSet[strings.ToLower(p)] = struct{}{}
		}
	})
	return breachedSet
}

// BreachedPasswords is how many passwords the breached list holds: 0 means
// the binary was built without `make assets`, and refuses only a few.
func BreachedPasswords() int { return len(breached()) }

// isBreached reports whether password, whatever its case, is on the list.
func isBreached(password string) bool {
	_, ok := breached()[strings.ToLower(password)]
	return ok
}
