#!/usr/bin/env bash
# The project's own PostgreSQL cluster, for `make run` and `make test` when
# DATABASE_URL / TEST_DATABASE_URL are not set.
#
#   scripts/localpg.sh [DBNAME]  start the cluster if needed, create DBNAME
#                                (default: userpanel) if missing, print its URL
#   scripts/localpg.sh stop      stop the cluster
#   scripts/localpg.sh status    exit 0 if the cluster is running
#
# The cluster lives in .data/pg (git-ignored) and is reused by every run. It
# listens on 127.0.0.1 only, on a port derived from the repository's path so
# that two checkouts never collide (PGPORT_LOCAL overrides it when the cluster
# is first created), and trusts every local connection: it is a development
# cluster, not a server. Messages go to stderr; stdout is only the URL.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
base="$repo/.data/pg"
pgdata="$base/data"

say() { echo "localpg: $*" >&2; }
die() { say "$*"; exit 1; }

# PostgreSQL refuses to run as root, so root runs it as the postgres user.
if [ "$(id -u)" = 0 ]; then
	as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
	as_owner() { "$@"; }
fi

# find_bin prints the server's bin directory: the version that created the
# cluster, else the newest installed.
find_bin() {
	if [ -f "$pgdata/PG_VERSION" ]; then
		local v
		v=$(cat "$pgdata/PG_VERSION")
		[ -x "/usr/lib/postgresql/$v/bin/postgres" ] || die "the cluster in $pgdata needs PostgreSQL $v, which is not installed"
		echo "/usr/lib/postgresql/$v/bin"
		return
	fi
	# Client-only packages have a bin directory too: look for initdb.
	local newest
	newest=$(for f in /usr/lib/postgresql/*/bin/initdb; do [ -x "$f" ] && echo "$f"; done | sort -V | tail -n 1)
	[ -z "$newest" ] || dirname "$newest"
}

ensure_server_installed() {
	[ -n "$(find_bin)" ] && return
	if [ "$(id -u)" != 0 ]; then
		die "the PostgreSQL server is not installed. Install it (sudo apt-get install -y postgresql) or set DATABASE_URL to a server of your own."
	fi
	say "the PostgreSQL server is not installed; installing it: apt-get install -y postgresql"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y postgresql >&2 || { apt-get update >&2 && apt-get install -y postgresql >&2; }
	[ -n "$(find_bin)" ] || die "apt-get installed postgresql, but no /usr/lib/postgresql/*/bin appeared"
}

ensure_postgres_user() {
	[ "$(id -u)" = 0 ] || return 0
	id postgres >/dev/null 2>&1 && return
	say "creating the system user postgres to own the cluster"
	useradd --system --user-group --create-home --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# make_base creates .data/pg, owned by whoever runs the server. When root runs
# us in a folder the postgres user cannot reach (say, under /root), the
# cluster goes to a postgres-owned folder named after the repository, and
# .data/pg points there.
make_base() {
	[ -e "$base" ] && return
	mkdir -p "$repo/.data"
	if [ "$(id -u)" != 0 ]; then
		mkdir "$base"
		return
	fi
	mkdir "$base"
	chown postgres:postgres "$base"
	chmod 700 "$base"
	if runuser -u postgres -- test -w "$base"; then
		return
	fi
	rmdir "$base"
	local home hash
	home=$(getent passwd postgres | cut -d: -f6)
	hash=$(printf %s "$repo" | sha256sum | cut -c1-12)
	local elsewhere="$home/userpanel-$hash"
	say "the postgres user cannot reach $repo; the cluster lives in $elsewhere (linked from .data/pg)"
	mkdir -p "$elsewhere"
	chown postgres:postgres "$elsewhere"
	chmod 700 "$elsewhere"
	ln -s "$elsewhere" "$base"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port chooses the port of a new cluster: PGPORT_LOCAL, else one derived
# from the repository's path, moved up past ports already taken.
pick_port() {
	if [ -n "${PGPORT_LOCAL:-}" ]; then
		echo "$PGPORT_LOCAL"
		return
	fi
	local sum port
	sum=$(printf %s "$repo" | cksum | cut -d' ' -f1)
	port=$((55432 + sum % 500))
	while port_in_use "$port"; do port=$((port + 1)); done
	echo "$port"
}

init_cluster() {
	local bin=$1 port
	port=$(pick_port)
	say "creating a PostgreSQL cluster in $pgdata (port $port)"
	as_owner "$bin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	# A unix socket path may not exceed ~107 bytes; a deep checkout goes
	# without one (every client here uses TCP anyway).
	local sockets=""
	if [ ${#base} -lt 80 ]; then
		as_owner mkdir -p "$base/run"
		sockets="$base/run"
	fi
	as_owner tee -a "$pgdata/postgresql.conf" >/dev/null <<-EOF

		# userpanel's development cluster (scripts/localpg.sh)
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$sockets'
		max_connections = 200
		shared_buffers = 128MB
		max_wal_size = 4GB
		synchronous_commit = off
	EOF
}

cluster_port() { sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$pgdata/postgresql.conf" | tail -n 1; }

start() {
	local db=${1:-userpanel}
	mkdir -p "$repo/.data"
	# One caller at a time: `make run` and `make test` may start together.
	exec 9>"$repo/.data/localpg.lock"
	flock 9

	ensure_server_installed
	ensure_postgres_user
	make_base
	# The postgres user may reach the cluster only through its real path.
	base=$(readlink -f "$base")
	pgdata="$base/data"
	local bin
	bin=$(find_bin)
	[ -f "$pgdata/PG_VERSION" ] || init_cluster "$bin"
	local port
	port=$(cluster_port)
	if ! as_owner "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		say "starting PostgreSQL on 127.0.0.1:$port (log: $base/server.log)"
		# 9>&-: the server must not inherit (and so hold forever) our lock.
		as_owner "$bin/pg_ctl" -D "$pgdata" -l "$base/server.log" -w -t 60 start >/dev/null 9>&- ||
			die "PostgreSQL did not start; see $base/server.log"
	fi
	local tries=0
	until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
		tries=$((tries + 1))
		[ $tries -lt 60 ] || die "PostgreSQL on port $port does not answer; see $base/server.log"
		sleep 0.5
	done
	local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
	if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
		say "creating database $db"
		"${psql[@]}" -c "CREATE DATABASE \"$db\"" >/dev/null
	fi
	echo "postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
}

stop() {
	[ -e "$base" ] && base=$(readlink -f "$base") && pgdata="$base/data"
	[ -f "$pgdata/PG_VERSION" ] || { say "no cluster in $pgdata"; return; }
	local bin
	bin=$(find_bin)
	if as_owner "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		as_owner "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
		say "stopped"
	else
		say "not running"
	fi
}

running() {
	[ -e "$base" ] && base=$(readlink -f "$base") && pgdata="$base/data"
	[ -f "$pgdata/PG_VERSION" ] && as_owner "$(find_bin)/pg_ctl" -D "$pgdata" status >/dev/null 2>&1
}

case "${1:-}" in
stop) stop ;;
status) running ;;
-h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0" ;;
*)
	[[ "${1:-userpanel}" =~ ^[a-z_][a-z0-9_]*$ ]] || die "a database name is lower-case letters, digits and _: got '$1'"
	start "${1:-}"
	;;
esac
