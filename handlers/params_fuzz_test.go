package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"userpanel/db"
	"userpanel/internal/testdb"
)

// listPaths are the routes that parse the list parameters.
var listPaths = []string{"/users", "/audit", "/users/export.csv", "/users/count"}

// FuzzListParams sends random query strings to every list route, signed in
// as an admin: whatever the parameters, the answer is never a 5xx, and never
// shows a database error. A malformed value falls back to its default or is
// refused as input.
func FuzzListParams(f *testing.F) {
	store := testdb.New(f)
	logs := &testdb.LogBuffer{}
	e, err := New(store, Options{SessionSecret: testSecret, Static: os.DirFS("../static"),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(e)
	f.Cleanup(srv.Close)
	testdb.AddUser(f, store, adminEmail, "Ada Admin", db.RoleAdmin)
	if _, err := store.DB().Exec(`INSERT INTO users (email, name, email_verified) VALUES ('pct%_x@beta.test', 'Zoë', false)`); err != nil {
		f.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The sign-in form's token, read from the page as a browser would.
	var token string
	if resp, err := client.Get(srv.URL + "/login"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(body); m != nil {
			token = string(m[1])
		}
	}
	resp, err := client.PostForm(srv.URL+"/login", url.Values{"email": {adminEmail}, "password": {testdb.Password}, "_csrf": {token}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		f.Fatalf("sign in: %v %v", resp, err)
	}
	resp.Body.Close()

	for _, seed := range []string{"", "q=ada&sort=email&order=asc&page=2&per_page=5", "banned=yes&verified=maybe&role=admin",
		"page=-1&per_page=1000000", "page=99999999999999999999", "sort=%27%3B+DROP+TABLE+users&order=sideways",
		"q=%00", "q=%FF%FE", "q=%25_%5C", "role=%00x", "action=user.ban&actor=x&target=y&from=2024-13-45&to=yesterday",
		"q=" + strings.Repeat("a", 300), "before=abc&after=-1", "q=a&q=b&page=1&page=2", "%zz=1&=&&&"} {
		for i := range listPaths {
			f.Add(uint8(i), seed, false)
		}
	}
	f.Add(uint8(0), "q=ada", true)

	f.Fuzz(func(t *testing.T, which uint8, rawQuery string, htmx bool) {
		path := listPaths[int(which)%len(listPaths)]
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = rawQuery
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		resp, err := client.Do(req)
		if err != nil {
			// The client itself refused the URL (say, a control character).
			t.Skip()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s?%s: status %d\n%.300s", path, rawQuery, resp.StatusCode, body)
		}
		for _, leak := range []string{"pq:", "SQLSTATE", "sql:", "db: "} {
			if strings.Contains(string(body), leak) {
				t.Fatalf("GET %s?%s: the answer shows %q\n%.300s", path, rawQuery, leak, body)
			}
		}
	})
}
