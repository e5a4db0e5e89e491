// Command userpanel is an admin panel for the users of an application whose
// accounts live in PostgreSQL. main only wires: the embedded schema and
// static files go to the command line in internal/cli.
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"userpanel/internal/cli"
)

//go:embed schema.sql
var schema string

// static holds our CSS and, once `make assets` has run, the vendor/ files
// copied from node_modules; "all:" keeps files whose names start with . or _.
//
//go:embed all:static
var static embed.FS

func main() {
	staticFS, err := fs.Sub(static, "static")
	if err != nil {
		fmt.Fprintln(os.Stderr, "userpanel:", err)
		os.Exit(1)
	}
	// An interrupt or a stop request cancels the context: serve shuts down
	// gracefully, seed rolls its transaction back.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := &cli.App{
		Schema: schema,
		Static: staticFS,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	}
	code := app.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
