// Package cli is userpanel's command line: serve the panel, migrate the
// schema, create users, ensure the first admin, seed demo users, and act on
// users as the panel does (ban, unban, revoke-sessions, set-roles, delete,
// bulk). Every command is a client of db.Store, like the panel itself.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"

	"golang.org/x/term"

	"userpanel/db"
)

// Exit statuses, so that a script can tell the kinds of refusal apart
// without reading the line; exitStatus picks one, and README.md ("The
// command line") lists them.
const (
	exitOK          = 0
	exitError       = 1 // failed for any other reason, or interrupted
	exitUsage       = 2 // a mistake on the command line
	exitNotFound    = 3 // db.ENotFound: no such user
	exitConflict    = 4 // db.EConflict: the email is taken, the actor is gone
	exitInvalid     = 5 // db.EInvalid: a value was refused (email, password, role, reason)
	exitForbidden   = 6 // db.EForbidden: the actor's roles do not allow it
	exitProtected   = 7 // db.EProtected: the account is protected (the last active admin)
	exitUnavailable = 8 // the database could not be reached or did not answer in time
)

// exitStatusHelp is the usage's list of the exit statuses above.
const exitStatusHelp = `
Exit status, for every command: 0 done, 1 any other failure, 2 a usage error,
3 no such user, 4 a conflict (the email is taken), 5 a value refused (email,
password, role, reason), 6 not allowed for the acting user's roles, 7 a
protected account (the last active admin), 8 the database unavailable.
`

// App is the command line with its surroundings, so that tests run it in
// process with their own input, output and environment.
type App struct {
	// Schema is the text of schema.sql.
	Schema string
	// Static holds the files the panel serves under /static/.
	Static fs.FS

	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string

	// onListen, if set, hears the address serve listens on (tests use port 0).
	onListen func(net.Addr)
	// onMetricsListen, if set, hears the address metrics are served on.
	onMetricsListen func(net.Addr)
}

// command is one subcommand: its name, one line for the overview, and the
// function that parses its arguments and runs it.
type command struct {
	name    string
	summary string
	run     func(a *App, ctx context.Context, args []string) error
}

var commands = []command{
	{"serve", "serve the admin panel over HTTP", (*App).serve},
	{"migrate", "bring the database to the latest schema version", (*App).migrate},
	{"create-user", "create a user; the password is read from standard input or a prompt", (*App).createUser},
	{"ensure-admin", "make sure an admin exists (used by `make run`)", (*App).ensureAdmin},
	{"seed", "load realistic demo users, fast", (*App).seed},
	{"ban", "ban a user by email, with a reason and a duration", (*App).ban},
	{"unban", "lift a user's ban", (*App).unban},
	{"revoke-sessions", "sign a user out everywhere", (*App).revokeSessions},
	{"set-roles", "set a user's roles", (*App).setRoles},
	{"delete", "delete a user", (*App).deleteUser},
	{"bulk", "preview or apply an action to many users at once", (*App).bulk},
	{"export", "write the users as CSV, with the user table's filters", (*App).export},
	{"set-password", "set a user's password, read from standard input or a prompt", (*App).setPassword},
}

// Run runs the command line args (without the program name) and returns
// the exit status: 0 on success, 2 for a usage error, 3 to 8 for a refusal
// of db's or an unreachable database (exitStatus), 1 for any other failure.
func (a *App) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.Stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		a.usage(a.Stdout)
		return exitOK
	case "help":
		if len(args) == 1 {
			a.usage(a.Stdout)
			return exitOK
		}
		// "help serve" is "serve --help".
		name, args = args[1], []string{args[1], "--help"}
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(a, ctx, args[1:])
			if err != nil && ctx.Err() != nil {
				// Whatever the error says (a cancelled query, say), the
				// cause is the interrupt.
				err = context.Cause(ctx)
			}
			return a.report(name, err)
		}
	}
	fmt.Fprintf(a.Stderr, "userpanel: unknown command %q\n\n", name)
	a.usage(a.Stderr)
	return exitUsage
}

func (a *App) usage(w io.Writer) {
	fmt.Fprint(w, "userpanel is an admin panel for the users of an application, kept in PostgreSQL.\n\n")
	fmt.Fprint(w, "Usage:\n  userpanel <command> [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun `userpanel <command> --help` for a command's flags.\n")
	fmt.Fprint(w, exitStatusHelp)
}

// report writes a command's error as one line and returns its exit status.
func (a *App) report(name string, err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintf(a.Stderr, "userpanel %s: %s\nRun `userpanel %s --help` for usage.\n", name, ue.msg, name)
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(a.Stderr, "userpanel %s: interrupted; nothing was changed by the part in progress\n", name)
	default:
		fmt.Fprintf(a.Stderr, "userpanel %s: %s\n", name, message(err))
	}
	return exitStatus(err)
}

// message says what went wrong as a person would want to read it: a
// refused field names the field, a db.Error is its own sentence; anything
// else is the wrapped error, which on the command line is for the operator.
func message(err error) string {
	if e := db.ErrorOf(err); e.Code == db.EInvalid && e.Field != "" {
		return fmt.Sprintf("invalid %s: %s", e.Field, e.Message)
	}
	return err.Error()
}

// exitStatus is the one mapping from a command's error to its exit status:
// a db.Error by its code, an unreachable database apart from a refusal (it
// is worth trying again), and anything else 1. Add a case here for a new
// code, and a row to the table in README.md.
func exitStatus(err error) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitError
	case db.IsUnavailable(err):
		return exitUnavailable
	}
	switch db.ErrorOf(err).Code {
	case db.ENotFound:
		return exitNotFound
	case db.EConflict:
		return exitConflict
	case db.EInvalid:
		return exitInvalid
	case db.EForbidden:
		return exitForbidden
	case db.EProtected:
		return exitProtected
	}
	return exitError
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

func (a *App) getenv(key string) string {
	if a.Getenv != nil {
		return a.Getenv(key)
	}
	return os.Getenv(key)
}

// newFlagSet makes a command's flag set whose --help prints the command's
// synopsis, description and flags on standard output.
func (a *App) newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := a.Stdout
		fmt.Fprintf(w, "Usage: userpanel %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args, then fills each flag the command line left unset from
// its environment variable (pairs of flag name and variable name). Extra
// arguments are a usage error.
func (a *App) parse(fs *flag.FlagSet, args []string, envPairs ...string) error {
	// The flag package prints the usage on every parse error; we print it
	// only when asked, and a short hint otherwise.
	help := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = help
	if errors.Is(err, flag.ErrHelp) {
		help()
		return err
	}
	if err != nil {
		return usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i := 0; i+1 < len(envPairs); i += 2 {
		name, env := envPairs[i], envPairs[i+1]
		if v := a.getenv(env); v != "" && !set[name] {
			if err := fs.Set(name, v); err != nil {
				return usageErrorf("%s=%q: %v", env, v, err)
			}
		}
	}
	return nil
}

// databaseURLFlag adds the --database-url flag every command that reaches
// the database has.
func databaseURLFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", "", "PostgreSQL `URL`, e.g. postgres://user:pass@host:5432/userpanel (env DATABASE_URL)")
}

// openStore connects to the database, saying which one (without its
// password) when it cannot.
func openStore(ctx context.Context, rawURL string) (*db.Store, error) {
	if rawURL == "" {
		return nil, usageErrorf("no database: set DATABASE_URL or pass --database-url")
	}
	store, err := db.Open(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot use the database at %s: %w", redact(rawURL), err)
	}
	return store, nil
}

// redact hides the password of a connection string, in either of the forms
// lib/pq reads: a URL (postgres://user:secret@host/db?password=secret) or
// key=value words (host=h password='se cret' dbname=d).
func redact(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "(an unreadable URL)"
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return keyValuePassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// keyValuePassword is the password word of a key=value connection string:
// a quoted value (with \' and \\ escapes) or a bare one up to a space.
var keyValuePassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s]*)`)

// isTerminal reports whether f is an *os.File on a terminal.
func isTerminal(f any) (int, bool) {
	file, ok := f.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(file.Fd())
	return fd, term.IsTerminal(fd)
}
