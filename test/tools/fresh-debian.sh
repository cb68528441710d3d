#!/bin/bash
# Runs the README's test command on a fresh Debian 12 (a debootstrap chroot), the way CI
# runs it on a new machine: only Debian's packages and the npm registry, nothing of this
# machine's (its Node.js, its libraries). Root only; the chroot is kept between runs (its
# packages then are installed already; delete it for a first-install run).
#
#   test/tools/fresh-debian.sh [REPO] [-- pytest args]
#     REPO     the git repository to clone (default: this one); its HEAD is tested
#     FRESH_ROOT=/path   where the chroot lives (default /var/tmp/mobility-fresh-debian)
#     FRESH_BEFORE='cmd' runs in the chroot before the test command, e.g. to install an
#                        older libssl3 the way a machine image may have one:
#       FRESH_BEFORE='apt-get install -y --allow-downgrades libssl3=3.0.20-1~deb12u2'
#
# The host's CA bundle and local CAs are copied in (a TLS-intercepting proxy's CA, if the
# network has one, is needed by npm; Debian's ca-certificates rebuilds the bundle from the
# local ones) and the host's apt sources are used.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -gt 0 ] && [ "$1" != "--" ]; then REPO=$1; shift; fi
[ "${1:-}" = "--" ] && shift
C=${FRESH_ROOT:-/var/tmp/mobility-fresh-debian}
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap, chroot, mounts)" >&2; exit 2; }

if [ ! -x "$C/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
    debootstrap --variant=minbase bookworm "$C" http://deb.debian.org/debian >/dev/null
fi
if [ -d /etc/apt/sources.list.d ]; then
    cp /etc/apt/sources.list.d/*.sources "$C/etc/apt/sources.list.d/" 2>/dev/null || true
fi
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$C/etc/apt/" || rm -f "$C/etc/apt/sources.list"
cp /etc/hosts /etc/resolv.conf "$C/etc/"
mkdir -p "$C/etc/ssl/certs" "$C/usr/local/share/ca-certificates"
cp -r /usr/local/share/ca-certificates/. "$C/usr/local/share/ca-certificates/" 2>/dev/null || true
cp /etc/ssl/certs/ca-certificates.crt "$C/etc/ssl/certs/ca-certificates.crt"

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" || true; done
}
trap cleanup EXIT
for m in proc sys dev dev/pts dev/shm; do
    if ! mountpoint -q "$C/$m"; then mount --bind "/$m" "$C/$m"; mounted+=("$C/$m"); fi
done

# Not under /root: the test instances' children run as nobody and read the checkout.
rm -rf "$C/work/repo" && mkdir -p "$C/work" && git clone -q "$REPO" "$C/work/repo"
chroot "$C" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    /bin/bash -c 'cd /work/repo && apt-get update -q >/dev/null && '"${FRESH_BEFORE:-true}"' \
                  && exec ./apxs-build.sh test "$@"' fresh "$@"
