package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"golang.org/x/term"

	"userpanel/db"
)

// stringList is a repeatable flag: --role admin --role support.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

func (a *App) createUser(ctx context.Context, args []string) error {
	fs := a.newFlagSet("create-user", "--email EMAIL [--name NAME] [--role ROLE]...", `
Create a user. The password is the first line of standard input when that is
not a terminal (echo "$PASSWORD" | userpanel create-user ...), otherwise it
is asked for, twice, without echo. There is no password flag: a command
line is visible to every user of the machine.`)
	dbURL := databaseURLFlag(fs)
	email := fs.String("email", "", "the user's email `address` (required)")
	name := fs.String("name", "", "the user's display `name`")
	var roles stringList
	fs.Var(&roles, "role", "grant a `role`: admin, support or manager; repeat the flag for several")
	verified := fs.Bool("verified", true, "mark the email address as verified")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL"); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usageErrorf("--email is required")
	}
	// Refuse what we can before asking for a password.
	if _, err := db.NormalizeEmail(*email); err != nil {
		return err
	}
	password, err := a.readPassword(ctx, "Password for "+*email)
	if err != nil {
		return err
	}
	if err := db.CheckPassword(password); err != nil {
		return err
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.CreateUser(db.WithActor(ctx, db.SystemActor("cli")), db.NewUser{
		Email:         *email,
		Name:          *name,
		Password:      password,
		EmailVerified: *verified,
		Roles:         roles,
	})
	if errors.Is(err, db.ErrUserAlreadyExists) {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(*email))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "created user %s (id %s)%s\n", u.Email, u.ID, rolesText(u.Roles))
	return nil
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return " with no roles"
	}
	return " with roles " + strings.Join(roles, ", ")
}

// readPassword reads the first line of standard input when that is not a
// terminal, else asks twice without echo.
func (a *App) readPassword(ctx context.Context, prompt string) (string, error) {
	fd, tty := isTerminal(a.Stdin)
	if !tty {
		line, err := bufio.NewReader(a.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("no password on standard input: pipe it in (the first line is the password), or run in a terminal to be asked")
		}
		return line, nil
	}
	first, err := a.promptHidden(ctx, fd, prompt+": ")
	if err != nil {
		return "", err
	}
	second, err := a.promptHidden(ctx, fd, "Again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}

// promptHidden reads a line from the terminal without echo. An interrupt
// (which cancels ctx) puts the terminal back as it was.
func (a *App) promptHidden(ctx context.Context, fd int, prompt string) (string, error) {
	fmt.Fprint(a.Stderr, prompt)
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(a.Stderr)
		if r.err != nil {
			return "", fmt.Errorf("read the password: %w", r.err)
		}
		return string(r.b), nil
	case <-ctx.Done():
		_ = term.Restore(fd, state)
		fmt.Fprintln(a.Stderr)
		return "", ctx.Err()
	}
}

// defaultAdminEmail is the first admin's address when ADMIN_EMAIL is unset.
const defaultAdminEmail = "admin@example.com"

func (a *App) ensureAdmin(ctx context.Context, args []string) error {
	fs := a.newFlagSet("ensure-admin", "[flags]", `
Make sure the panel has an admin; `+"`make run`"+` runs this before serving.

With ADMIN_EMAIL (and ADMIN_PASSWORD) set: that user exists and is an admin.
A missing user is created with ADMIN_PASSWORD, or with a generated password
that is printed once. An existing user is granted the admin role if need be;
their password is never changed.

With ADMIN_EMAIL unset: if there is no admin at all, `+defaultAdminEmail+` is
created with a generated password, printed once with how to sign in; if
there are admins, their emails are listed.`)
	dbURL := databaseURLFlag(fs)
	email := fs.String("email", "", "the admin's email `address` (env ADMIN_EMAIL)")
	panelURL := fs.String("url", "", "the panel's `URL`, for the sign-in instructions (default: http:// and LISTEN_ADDR, else http://127.0.0.1:8080)")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL", "email", "ADMIN_EMAIL"); err != nil {
		return err
	}
	if *panelURL == "" {
		addr := a.getenv("LISTEN_ADDR")
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		*panelURL = "http://" + addr
	}
	loginURL := strings.TrimRight(*panelURL, "/") + "/login"
	password := a.getenv("ADMIN_PASSWORD")

	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx = db.WithActor(ctx, db.SystemActor("cli"))

	if *email == "" {
		admins, err := store.ListUsers(ctx, db.ListParams{Filter: db.Filter{Role: db.RoleAdmin}, SortBy: db.SortEmail, Limit: 100})
		if err != nil {
			return err
		}
		if len(admins.Users) > 0 {
			emails := make([]string, len(admins.Users))
			for i, u := range admins.Users {
				emails[i] = u.Email
			}
			fmt.Fprintf(a.Stdout, "Admins: %s. Sign in at %s with the password printed when the admin was created.\n"+
				"Lost it? Make another admin: userpanel create-user --email you@example.com --role admin\n",
				strings.Join(emails, ", "), loginURL)
			if password != "" {
				fmt.Fprintln(a.Stdout, "ADMIN_PASSWORD is ignored without ADMIN_EMAIL while admins exist.")
			}
			return nil
		}
		*email = defaultAdminEmail
	}

	u, err := store.GetUserByEmail(ctx, *email)
	if errors.Is(err, db.ErrNotFound) {
		return a.createAdmin(ctx, store, *email, password, loginURL)
	}
	if err != nil {
		return err
	}
	if !u.HasRole(db.RoleAdmin) {
		if err := store.SetRoles(ctx, u.ID, append([]string{db.RoleAdmin}, u.Roles...)); err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "Granted the admin role to %s. Sign in at %s with their password.\n", u.Email, loginURL)
	} else {
		fmt.Fprintf(a.Stdout, "%s is an admin. Sign in at %s.\n", u.Email, loginURL)
	}
	if password != "" {
		fmt.Fprintf(a.Stdout, "ADMIN_PASSWORD was not applied: %s existed already, and their password is unchanged.\n", u.Email)
	}
	if u.Banned {
		fmt.Fprintf(a.Stdout, "Warning: %s is banned and cannot sign in until unbanned.\n", u.Email)
	}
	return nil
}

// createAdmin creates the admin, with a generated password when none is
// given, and prints how to sign in.
func (a *App) createAdmin(ctx context.Context, store *db.Store, email, password, loginURL string) error {
	generated := password == ""
	if generated {
		var err error
		if password, err = generatePassword(); err != nil {
			return err
		}
	}
	u, err := store.CreateUser(ctx, db.NewUser{
		Email: email, Name: "Admin", Password: password, EmailVerified: true, Roles: []string{db.RoleAdmin},
	})
	var ve *db.ValidationError
	if errors.As(err, &ve) && ve.Field == "password" {
		return &db.Error{Code: db.EInvalid, Message: "ADMIN_PASSWORD " + ve.Reason}
	}
	if err != nil {
		return err
	}
	if !generated {
		fmt.Fprintf(a.Stdout, "Created the admin %s with ADMIN_PASSWORD. Sign in at %s.\n", u.Email, loginURL)
		return nil
	}
	fmt.Fprintf(a.Stdout, `
  Created the first admin. Sign in at %s with
      email:    %s
      password: %s
  The password is shown only this once: keep it somewhere safe.

`, loginURL, u.Email, password)
	return nil
}

// generatePassword makes a 20-character password from an alphabet without
// look-alikes (no 0/O, 1/l/I): about 115 bits.
func generatePassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("generate a password: %w", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

func (a *App) setPassword(ctx context.Context, args []string) error {
	fs := a.newFlagSet("set-password", "--email EMAIL [--must-change]", `
Set a user's password, for a forgotten one or the admin password that make
run printed. The password is the first line of standard input when that is
not a terminal (echo "$PASSWORD" | userpanel set-password --email ...),
otherwise it is asked for, twice, without echo. The user's panel sign-ins
end. It is audited, as system:cli.`)
	dbURL := databaseURLFlag(fs)
	email := fs.String("email", "", "the user's email `address` (required)")
	mustChange := fs.Bool("must-change", false, "make them choose a new password at their next sign-in")
	if err := a.parse(fs, args, "database-url", "DATABASE_URL"); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return usageErrorf("--email is required")
	}
	store, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.GetUserByEmail(ctx, *email)
	if errors.Is(err, db.ErrNotFound) {
		return noUser(*email)
	}
	if err != nil {
		return err
	}
	password, err := a.readPassword(ctx, "New password for "+u.Email)
	if err != nil {
		return err
	}
	if err := store.SetPassword(db.WithActor(ctx, db.SystemActor("cli")), u.ID, password, *mustChange); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "set the password of %s; their panel sign-ins have ended\n", u.Email)
	return nil
}
