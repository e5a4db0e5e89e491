package handlers

import (
	"reflect"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// TestSessionCookieValues: the session cookie keeps the token and the flash
// messages, reads a cookie that the gob encoding wrote before, and refuses
// a value it cannot keep rather than dropping it.
func TestSessionCookieValues(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	store := newSessionStore(secret, false, 3600)
	values := map[any]any{keyToken: "the-token", flashesKey: []any{"success:Banned a@example.com.", "error:No."}}
	raw, err := securecookie.EncodeMulti(sessionName, values, store.Codecs...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[any]any{}
	if err := securecookie.DecodeMulti(sessionName, raw, &got, store.Codecs...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, values) {
		t.Errorf("read back %v, want %v", got, values)
	}

	// A cookie of the same keys in gob, as the panel wrote them before.
	old := sessions.NewCookieStore(deriveKey(secret, "session authentication"), deriveKey(secret, "session encryption"))
	raw, err = securecookie.EncodeMulti(sessionName, map[any]any{keyToken: "old-token"}, old.Codecs...)
	if err != nil {
		t.Fatal(err)
	}
	got = map[any]any{}
	if err := securecookie.DecodeMulti(sessionName, raw, &got, store.Codecs...); err != nil {
		t.Fatalf("an earlier cookie is not read: %v", err)
	}
	if got[keyToken] != "old-token" {
		t.Errorf("an earlier cookie's token reads %v", got[keyToken])
	}

	if _, err := securecookie.EncodeMulti(sessionName, map[any]any{"other": 1}, store.Codecs...); err == nil {
		t.Error("a value the cookie cannot keep was accepted")
	}
}
