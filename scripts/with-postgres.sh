#!/bin/sh
# Run a command with a throwaway PostgreSQL cluster: initdb + pg_ctl in a temporary directory on
# a free loopback port, CREDFLOW_TEST_POSTGRES_URL exported, the cluster stopped afterwards.
# Installs Debian's postgresql package first when initdb is missing. Fails (never skips) when the
# cluster cannot start.
set -eu

find_bin() {
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    done
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return 0; fi
    return 1
}

bin=$(find_bin) || {
    echo "with-postgres: initdb not found; installing Debian's postgresql package" >&2
    if [ "$(id -u)" -ne 0 ]; then echo "with-postgres: need root to apt-get install postgresql" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(find_bin) || { echo "with-postgres: initdb still missing after install" >&2; exit 1; }
}

workdir=$(mktemp -d /tmp/credflow-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# PostgreSQL refuses to run as root: run the server as the postgres user when we are root.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$workdir"
    as_pg() { (cd "$workdir" && runuser -u postgres -- "$@"); }
else
    as_pg() { "$@"; }
fi

cleanup() {
    as_pg "$bin/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

as_pg "$bin/initdb" -D "$workdir/data" -U credflow --auth=trust -E UTF8 --locale=C.UTF-8 >"$workdir/initdb.log" 2>&1 || {
    cat "$workdir/initdb.log" >&2; exit 1; }
as_pg "$bin/pg_ctl" -D "$workdir/data" -l "$workdir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $workdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$workdir/server.log" >&2; exit 1; }

export CREDFLOW_TEST_POSTGRES_URL="postgresql://credflow@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
status=0
"$@" || status=$?
exit $status
