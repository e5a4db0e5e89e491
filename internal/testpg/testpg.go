// Package testpg starts a PostgreSQL cluster of a test's own, in a temporary
// directory on a free port, so that the test may stop, freeze and resume it
// without touching the server every other test shares.
package testpg

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Cluster is a running PostgreSQL cluster owned by one test.
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string // owned by the server's user
	port int
	// owner is the unprivileged user the server runs as when the test runs
	// as root (PostgreSQL refuses to run as root); empty otherwise.
	owner string
}

// Start initialises a cluster and starts it; it is stopped and removed when
// the test ends. A machine without the PostgreSQL server binaries fails the
// test, saying what to install.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := findBin()
	if bin == "" {
		t.Fatal("testpg: no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
	}
	c := &Cluster{t: t, bin: bin}
	if os.Geteuid() == 0 {
		c.owner = "postgres"
		if _, err := user.Lookup(c.owner); err != nil {
			t.Fatalf("testpg: running as root needs the system user postgres to own the cluster: %v", err)
		}
	}
	// Not t.TempDir: the server's user must be able to write there, and the
	// unix socket path must stay short.
	dir, err := os.MkdirTemp("", "testpg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() {
		c.Thaw()
		_ = c.ctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if c.owner != "" {
		if out, err := exec.Command("chown", c.owner, dir).CombinedOutput(); err != nil {
			t.Fatalf("testpg: chown %s: %v: %s", dir, err, out)
		}
	}
	c.port = freePort(t)
	c.run(filepath.Join(bin, "initdb"), "-D", c.data(), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
		"--locale=C.UTF-8", "--no-sync")
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n"+
		"fsync = off\nsynchronous_commit = off\nmax_connections = 100\n", c.port)
	c.run("sh", "-c", "cat >> "+filepath.Join(c.data(), "postgresql.conf"), conf)
	c.StartServer()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the connection URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Port is the cluster's TCP port.
func (c *Cluster) Port() int { return c.port }

// StartServer starts the (stopped) server and waits until it accepts connections.
func (c *Cluster) StartServer() {
	c.t.Helper()
	if err := c.ctl("start", "-w", "-t", "60", "-l", filepath.Join(c.dir, "server.log")); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("testpg: start: %v\n%s", err, log)
	}
}

// Stop stops the server as an operator would: pg_ctl stop -m fast, which
// ends every session at once.
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.ctl("stop", "-m", "fast", "-w"); err != nil {
		c.t.Fatalf("testpg: stop: %v", err)
	}
}

// Freeze stops (SIGSTOP) every process of the cluster: the postmaster and
// all its children. Connections stay open and connects are still accepted
// by the kernel, but nothing answers: a stuck disk or a partition as the
// panel sees it.
func (c *Cluster) Freeze() { c.signal(syscall.SIGSTOP) }

// Thaw resumes (SIGCONT) every process of the cluster; it does nothing to
// a cluster that is not frozen.
func (c *Cluster) Thaw() { c.signal(syscall.SIGCONT) }

func (c *Cluster) signal(sig syscall.Signal) {
	for _, pid := range c.pids() {
		_ = syscall.Kill(pid, sig)
	}
}

// pids are the postmaster's and its children's process ids.
func (c *Cluster) pids() []int {
	raw, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return nil
	}
	pids := []int{pm}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The parent id is the second field after the parenthesised name.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pm) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// CreateDatabase creates database name.
func (c *Cluster) CreateDatabase(name string) {
	c.t.Helper()
	c.run(filepath.Join(c.bin, "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres",
		"-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", `CREATE DATABASE "`+name+`"`)
}

func (c *Cluster) ctl(args ...string) error {
	cmd := c.command(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// run runs a command as the cluster's owner, with stdin as its input.
func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	var stdin string
	if name == "sh" {
		stdin, args = args[len(args)-1], args[:len(args)-1]
	}
	cmd := c.command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("testpg: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if c.owner != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.owner, "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	// The owner may not be able to enter the test's working directory.
	cmd.Dir = c.dir
	return cmd
}

// findBin is the newest installed server's bin directory.
func findBin() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestV := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestV {
			best, bestV = filepath.Dir(m), v
		}
	}
	return best
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
