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
# is first created). TCP connections need a password (scram-sha-256): the
# superuser's is in .data/pg/superuser.pw, and each database other than
# postgres is owned by a role of the same name, not a superuser, whose
# password is in .data/pg/DBNAME.pw. The URL printed for DBNAME connects as
# that role; for postgres (the tests, which create databases) as the
# superuser. Messages go to stderr; stdout is only the URL.
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

# new_password prints a random password of letters and digits (URL-safe).
new_password() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }

# password_file NAME creates (once) and prints the path of NAME's password.
password_file() {
	local f="$base/$1.pw"
	if [ ! -s "$f" ]; then
		(umask 077; new_password >"$f")
	fi
	echo "$f"
}

init_cluster() {
	local bin=$1 port pwfile
	port=$(pick_port)
	say "creating a PostgreSQL cluster in $pgdata (port $port)"
	pwfile=$(password_file superuser)
	# initdb runs as the cluster's owner, who must read the password file.
	local pwcopy="$base/.initdb.pw"
	(umask 077; cp "$pwfile" "$pwcopy")
	[ "$(id -u)" != 0 ] || chown postgres "$pwcopy"
	# Local (socket) connections are the owner's own (peer); TCP needs the
	# password.
	as_owner "$bin/initdb" -D "$pgdata" -U postgres --pwfile="$pwcopy" --auth-local=peer \
		--auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pwcopy"
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
		unix_socket_permissions = 0700
		password_encryption = scram-sha-256
		max_connections = 200
		shared_buffers = 128MB
		max_wal_size = 4GB
		synchronous_commit = off
	EOF
}

# require_passwords moves a cluster made by an earlier version of this script
# (which trusted every connection) to password auth for TCP: the superuser
# gets its password while trust still lets us in, then pg_hba.conf asks for
# scram-sha-256 and the server reloads it.
require_passwords() {
	local bin=$1 port=$2 hba="$pgdata/pg_hba.conf"
	as_owner grep -Eq '^host.*[[:space:]]trust[[:space:]]*$' "$hba" || return 0
	say "switching the cluster's TCP connections from trust to password (scram-sha-256)"
	local pw
	pw=$(cat "$(password_file superuser)")
	"$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "SET password_encryption = 'scram-sha-256'" -c "ALTER ROLE postgres PASSWORD '$pw'" >/dev/null
	as_owner sed -i -E 's/^(host.*[[:space:]])trust[[:space:]]*$/\1scram-sha-256/; s/^(local.*[[:space:]])trust[[:space:]]*$/\1peer/' "$hba"
	as_owner "$bin/pg_ctl" -D "$pgdata" reload >/dev/null
}

# ensure_app_role DB makes DB's own role (LOGIN, not a superuser, no other
# rights) the owner of database DB and of everything in its public schema,
# so that the panel can migrate its schema without being a superuser.
ensure_app_role() {
	local db=$1 bin=$2 port=$3 pw
	pw=$(cat "$(password_file "$db")")
	local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres)
	"${psql[@]}" -d postgres -v ON_ERROR_STOP=1 -v role="$db" -v pw="$pw" >/dev/null <<-'EOF'
		SET password_encryption = 'scram-sha-256';
		SELECT format('CREATE ROLE %I LOGIN', :'role')
		WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
		SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'role', :'pw') \gexec
		SELECT format('ALTER DATABASE %I OWNER TO %I', :'role', :'role') \gexec
	EOF
	# Tables, sequences, views and functions a superuser made before.
	"${psql[@]}" -d "$db" -v ON_ERROR_STOP=1 -v role="$db" >/dev/null <<-'EOF'
		SELECT format('ALTER TABLE public.%I OWNER TO %I', c.relname, :'role')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
		  AND pg_get_userbyid(c.relowner) <> :'role' \gexec
		SELECT format('ALTER SEQUENCE public.%I OWNER TO %I', c.relname, :'role')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> :'role'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'a') \gexec
		SELECT format('ALTER FUNCTION public.%I(%s) OWNER TO %I', p.proname, pg_get_function_identity_arguments(p.oid), :'role')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'role'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \gexec
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
	require_passwords "$bin" "$port"
	local superpw
	superpw=$(cat "$(password_file superuser)")
	export PGPASSWORD=$superpw
	local psql=("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres)
	if [ -z "$("${psql[@]}" -v ON_ERROR_STOP=1 -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
		say "creating database $db"
		"${psql[@]}" -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
	fi
	if [ "$db" = postgres ]; then
		# The tests create databases and roles: the superuser.
		echo "postgres://postgres:$superpw@127.0.0.1:$port/postgres?sslmode=disable"
		return
	fi
	ensure_app_role "$db" "$bin" "$port"
	if [ "$db" = bench ]; then
		# The benchmark writes its seed's dirty pages out (CHECKPOINT) before
		# it measures, so that the first minutes are not the seed's writes.
		"${psql[@]}" -v ON_ERROR_STOP=1 -c "GRANT pg_checkpoint TO bench" >/dev/null 2>&1 ||
			say "could not grant pg_checkpoint to bench (PostgreSQL 15 or later has it)"
	fi
	echo "postgres://$db:$(cat "$(password_file "$db")")@127.0.0.1:$port/$db?sslmode=disable"
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
