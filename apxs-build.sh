#!/usr/bin/env bash
# Build, install, run and test the Skype for Business mobility modules for Apache httpd.
#
#   ./apxs-build.sh build     compile common/ and the three modules with apxs
#   ./apxs-build.sh install   apxs -i into the system Apache, conf.d files into mods-available
#   ./apxs-build.sh run       demo deployment (private Apache instances) in the foreground
#   ./apxs-build.sh test      unit tests, fuzz corpus replay, integration tests
#   ./apxs-build.sh bench     benchmarks (figures against a baseline measured in the same run)
#   ./apxs-build.sh check     mobility-check against the running demo (docs/mobility-check.md)
#   ./apxs-build.sh clean
#
# run, test and bench install the Debian packages they need themselves.
set -euo pipefail
cd "$(dirname "$0")"
TOP=$PWD
APXS=${APXS:-apxs}
BUILD=$TOP/build
MODULES=(autodiscover ucwa mcx)
WARN=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
      -Wno-missing-field-initializers -Wformat-security -Wpointer-arith)

PKGS_BUILD=(apache2 apache2-dev libapr1-dev libaprutil1-dev libjansson-dev libxml2-dev
            libssl-dev libcurl4-openssl-dev pkg-config libaprutil1-dbd-sqlite3 build-essential
            libpq-dev libre-dev)
PKGS_RUN=(sqlite3 openssl curl apache2-utils coturn)
PKGS_TEST=(check python3-pytest python3-requests python3-lxml pidgin-sipe finch tmux
           postgresql libaprutil1-dbd-pgsql haproxy chromium chromium-driver python3-selenium
           python3-dnspython python3-cryptography python3-aiortc rtpengine-daemon sipsak)
PKGS_BENCH=(wrk)
# The SIP side (docs/sip.md): Kamailio, rtpengine (user space), baresip as a SIP phone and
# SIPp as a PSTN gateway; the tests and DEMO_SIP=1 run them privately. Their system
# services never start: need_pkgs installs behind a policy-rc.d that says no.
PKGS_SIP=(kamailio rtpengine-daemon baresip-core sip-tester)
# DEMO_POOL=1 ./apxs-build.sh run: a pool of two Front Ends behind HAProxy on PostgreSQL
PKGS_POOL=(postgresql libaprutil1-dbd-pgsql haproxy)
# mobility-check (tools/mobility-check): asks named DNS servers, reads certificates
PKGS_CHECK=(python3-dnspython python3-cryptography openssl)
# The push tests run web-push-testing (npm) on Node.js >= 18: Debian's nodejs and npm,
# installed when the machine has no node (a Node.js that is already there is used).
PKGS_NODE=(nodejs npm)

log() { printf '\033[1m[apxs-build]\033[0m %s\n' "$*" >&2; }

# Install the Debian packages that are missing. The system Apache must not start on
# install (it would take port 80 from the demo), so a temporary policy-rc.d says no.
# Then bring what they depend on to the archive's versions (align_deps).
need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" -eq 0 ] || { log "missing packages: ${missing[*]} (run as root, or install them)"; exit 1; }
        log "installing: ${missing[*]}"
        apt-get update -q >/dev/null
        apt_quiet install --no-install-recommends "${missing[@]}"
    fi
    align_deps "$@"
}

# apt-get without starting services, quietly (its errors still show).
apt_quiet() {
    local policy=/usr/sbin/policy-rc.d own_policy=0 rc=0
    if [ ! -e $policy ]; then
        printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy && own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" >/dev/null || rc=$?
    [ $own_policy -eq 1 ] && rm -f $policy
    return $rc
}

# Debian's packages depend on the oldest library version they can use (apache2-bin:
# libssl3 >= 3.0.0), not on the one they were built against, so installing them leaves
# older libraries in place: mod_ssl built against libssl3 3.0.22 then warns (AH01882) at
# every start on a machine that still has 3.0.19. So every package the given ones depend
# on, recursively, that the archive holds in a newer version is upgraded: the set is then
# the one the archive's packages were built together with. Installed packages only.
align_deps() {
    local stale
    stale=$(comm -12 \
        <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
              --no-replaces --no-enhances "$@" 2>/dev/null | grep -v '^[ <]' | sort -u) \
        <(apt list --upgradable 2>/dev/null | grep / | cut -d/ -f1 | sort -u))
    [ -z "$stale" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "older than the archive's (run as root to upgrade): $(echo $stale)"
        return 0
    fi
    log "upgrading to the archive's versions: $(echo $stale)"
    # shellcheck disable=SC2086
    apt_quiet install --only-upgrade --no-install-recommends $stale
}

need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        need_pkgs "${PKGS_NODE[@]}"
    fi
    local major
    major=$(node -e 'process.stdout.write(process.versions.node.split(".")[0])')
    [ "$major" -ge 18 ] || { log "Node.js $(node --version) is older than 18 (Debian 12's)"; exit 1; }
}

# What a run used, so a failure on another machine can be matched to its versions.
print_versions() {
    local p v
    for p in apache2-bin libssl3 openssl libapr1 libaprutil1 libjansson4 libxml2 libcurl4 \
             postgresql-15 libpq5 nodejs coturn chromium python3-aiortc libavcodec59 libre0 \
             kamailio rtpengine-daemon baresip-core sip-tester; do
        v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || v="not installed"
        printf '  %-12s %s\n' "$p" "$v"
    done >&2
    log "apache2 -v: $(apache2 -v 2>/dev/null | head -1 | sed 's/^Server version: //')"
    log "openssl: $(openssl version)"
    log "node: $(command -v node) $(node --version) (npm $(npm --version 2>/dev/null))"
}

# libcurl: common/push/push_send.c (the push providers' HTTP client)
# libpq: mod_ucwa/ucwa_pool_db.c (the pool's thread: LISTEN, typed parameters)
# libre: mod_ucwa/ucwa_sipd_*.c (ucwa-sipd, the SIP side: SIP stack, event loop)
cflags_deps() { pkg-config --cflags jansson libxml-2.0 openssl libcurl libpq libre; }
libs_deps()   { pkg-config --libs jansson libxml-2.0 openssl libcurl libpq libre; }

# common/ is laid out by role (core, ucwa, push, mcx); every folder is on the include path.
common_includes() { local d; for d in "$TOP"/common/*/; do printf -- '-I%s ' "${d%/}"; done; }

# common/ is compiled once into a static PIC archive that every module links.
build_common() {
    mkdir -p "$BUILD/common"
    local cc cflags objs=() src obj
    cc=$($APXS -q CC)
    cflags="$($APXS -q CFLAGS) $($APXS -q CFLAGS_SHLIB) -fPIC -I$($APXS -q INCLUDEDIR) $(apr-1-config --includes) $(apu-1-config --includes) $(cflags_deps)"
    for src in common/*/*.c; do
        obj=$BUILD/common/$(basename "${src%.c}").o
        if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find common -name '*.h' -newer "$obj")" ]; then
            # shellcheck disable=SC2086
            $cc $cflags "${WARN[@]}" $(common_includes) -c "$src" -o "$obj"
        fi
        objs+=("$obj")
    done
    rm -f "$BUILD/libmobcore.a"
    ar rcs "$BUILD/libmobcore.a" "${objs[@]}"
}

build_module() {
    local m=$1 wc=() f
    for f in "${WARN[@]}" $(cflags_deps); do wc+=("-Wc,$f"); done
    # shellcheck disable=SC2046
    # glue/: httpd glue written once and compiled into every module (hidden symbols)
    $APXS -c -o "mod_$m/mod_$m.la" $(common_includes) -I"$TOP/glue" -I"$TOP/mod_autodiscover" \
        -I"$TOP/mod_ucwa" "${wc[@]}" mod_"$m"/*.c glue/*.c "$BUILD/libmobcore.a" $(libs_deps) \
        >"$BUILD/apxs-$m.log" 2>&1 \
        || { cat "$BUILD/apxs-$m.log"; exit 1; }
    [ -f "mod_$m/.libs/mod_$m.so" ] || { log "apxs produced no mod_$m.so"; exit 1; }
}

cmd_build() {
    need_pkgs "${PKGS_BUILD[@]}"
    build_common
    local m
    for m in "${MODULES[@]}"; do build_module "$m"; done
    log "built: $(for m in "${MODULES[@]}"; do printf 'mod_%s/.libs/mod_%s.so ' "$m" "$m"; done)"
}

cmd_install() {
    need_pkgs "${PKGS_CHECK[@]}"
    cmd_build
    local m moddir
    moddir=$($APXS -q LIBEXECDIR)
    for m in "${MODULES[@]}"; do
        $APXS -i -n "$m" "mod_$m/mod_$m.la" >/dev/null
        install -m 644 "conf.d/$m.load" "conf.d/$m.conf" /etc/apache2/mods-available/
    done
    install -d /etc/apache2/mobility
    install -m 644 conf.d/sites/*.conf conf.d/sites/*.cfg /etc/apache2/mobility/
    # the slow-client bounds, for every host (a2enmod reqtimeout; a2enconf mobility-hardening)
    install -d /etc/apache2/conf-available
    install -m 644 conf.d/mobility-hardening.conf /etc/apache2/conf-available/
    install -d /var/www/mobility
    cp -r htdocs/. /var/www/mobility/
    install -d /usr/local/lib/mobility-check
    install -m 644 tools/mobility-check/*.py /usr/local/lib/mobility-check/
    install -m 755 tools/mobility-check/mobility-check /usr/local/lib/mobility-check/
    ln -sf /usr/local/lib/mobility-check/mobility-check /usr/local/sbin/mobility-check
    log "installed /usr/local/sbin/mobility-check (docs/mobility-check.md)"
    log "installed into $moddir; enable with: a2enmod autodiscover ucwa (and mcx for Lync 2010 clients)"
    log "on every host, the slow-client bounds: a2enmod reqtimeout && a2enconf mobility-hardening"
    log "site templates are in /etc/apache2/mobility/ (see README, 'Installing into an existing Apache')"
}

cmd_run() {
    need_pkgs "${PKGS_BUILD[@]}" "${PKGS_RUN[@]}"
    case "${DEMO_POOL:-0}" in ""|0) ;; *) need_pkgs "${PKGS_POOL[@]}" ;; esac
    case "${DEMO_SIP:-0}" in ""|0) ;; *) need_pkgs "${PKGS_SIP[@]}" ;; esac
    cmd_build
    exec /usr/bin/python3 "$TOP/test/demo.py" run
}

cmd_test() {
    need_pkgs "${PKGS_BUILD[@]}" "${PKGS_RUN[@]}" "${PKGS_TEST[@]}" "${PKGS_SIP[@]}"
    need_node
    cmd_build
    log "versions used:"
    print_versions
    log "unit tests (check)"
    make -s -C test/unit TOP="$TOP" BUILD="$BUILD" check
    log "fuzz corpus replay"
    make -s -C test/fuzz TOP="$TOP" BUILD="$BUILD" replay
    log "integration tests (pytest, private Apache instances)"
    local rc=0
    /usr/bin/python3 -m pytest -q -p no:cacheprovider test/integration "$@" || rc=$?
    # pytest exits 5 when it collected nothing: that is a failure here.
    [ $rc -eq 5 ] && log "no integration test ran"
    return $rc
}

# Runs bench/$2 with the arguments after it, unless cmd_bench's --only list ($only, ",a,b,")
# leaves benchmark $1 out; its exit status.
bench_one() {
    [ -z "$only" ] || [[ "$only" == *",$1,"* ]] || return 0
    log "$2 ${*:3}"
    /usr/bin/python3 "$TOP/bench/$2" "${@:3}"
}

cmd_bench() {
    # ./apxs-build.sh bench [bench_autodiscover.py args] [--ucwa bench_ucwa.py args]
    #                       [--mcx bench_mcx.py args] [--push bench_push.py args]
    #                       [--signin bench_signin.py args] [--devices bench_devices.py args]
    #                       [--pool bench_pool.py args] [--calls bench_calls.py args]
    #                       [--relay bench_relay.py args]
    #                       [--sip bench_sip.py args]
    #                       [--only NAME,NAME...]
    # runs each benchmark with its own arguments (e.g. --ucwa --quick --mcx --quick); every
    # one runs even if an earlier one fails. --only (first) runs just the named ones
    # (autodiscover, ucwa, mcx, push, signin, devices, calls, relay, sip, pool), e.g.
    # --only sip --sip --quick. bench_pool.py (a pool of two Front Ends and its PostgreSQL) runs as root only, and so does bench_calls.py --pool (the same calls
    # across bench_pool's two Front Ends, beside one Front End's).
    need_pkgs "${PKGS_BUILD[@]}" "${PKGS_RUN[@]}" "${PKGS_TEST[@]}" "${PKGS_BENCH[@]}" "${PKGS_SIP[@]}"
    need_node
    cmd_build
    local ad=() uw=() mx=() pu=() si=() dv=() po=() ca=() re=() sp=() a to=ad rc=0 only=""
    for a in "$@"; do
        if [ "$to" = only ]; then only=",$a,"; to=ad; continue; fi
        case "$a" in
            --only) to=only; continue ;;
            --ucwa) to=uw; continue ;;
            --mcx) to=mx; continue ;;
            --push) to=pu; continue ;;
            --signin) to=si; continue ;;
            --devices) to=dv; continue ;;
            --pool) to=po; continue ;;
            --calls) to=ca; continue ;;
            --relay) to=re; continue ;;
            --sip) to=sp; continue ;;
        esac
        case "$to" in
            ad) ad+=("$a") ;; uw) uw+=("$a") ;; mx) mx+=("$a") ;; pu) pu+=("$a") ;;
            si) si+=("$a") ;; dv) dv+=("$a") ;; po) po+=("$a") ;; ca) ca+=("$a") ;;
            re) re+=("$a") ;;
            sp) sp+=("$a") ;;
        esac
    done
    bench_one autodiscover bench_autodiscover.py "${ad[@]}" || rc=$?
    bench_one ucwa bench_ucwa.py "${uw[@]}" || rc=$?
    bench_one mcx bench_mcx.py "${mx[@]}" || rc=$?
    if [ -f "$TOP/bench/bench_push.py" ]; then
        bench_one push bench_push.py "${pu[@]}" || rc=$?
    fi
    bench_one signin bench_signin.py "${si[@]}" || rc=$?
    bench_one devices bench_devices.py "${dv[@]}" || rc=$?
    bench_one calls bench_calls.py "${ca[@]}" || rc=$?
    bench_one relay bench_relay.py "${re[@]}" || rc=$?
    bench_one sip bench_sip.py "${sp[@]}" || rc=$?
    if [ "$(id -u)" = 0 ]; then
        bench_one pool bench_pool.py "${po[@]}" || rc=$?
    else
        log "bench_pool.py skipped: it runs PostgreSQL as the postgres user (run as root)"
    fi
    return $rc
}

# mobility-check against the demo that `run` started (in another terminal): its two
# configurations, the demo CA, its inside and outside names (hosts tables the demo
# writes) and alice signing in; pool02 exists in the topology only, so it is not checked.
# Arguments are added to these (e.g. --json, --verbose, --policy-user bob@contoso.test).
cmd_check() {
    need_pkgs "${PKGS_CHECK[@]}"
    local d=$TOP/state/demo
    if [ ! -s "$d/fe/run/httpd.pid" ] || [ ! -e "$d/hosts.inside" ]; then
        log "the demo is not running: start ./apxs-build.sh run in another terminal"
        exit 2
    fi
    MOBILITY_CHECK_PASSWORD=Demo-Passw0rd /usr/bin/python3 "$TOP/tools/mobility-check/mobility-check" \
        -f "$d/fe/conf/httpd.conf" --proxy-config "$d/rp/conf/httpd.conf" \
        --inside "hosts:$d/hosts.inside" --outside "hosts:$d/hosts.outside" \
        --ca "$d/pki/ca.crt" --user alice@contoso.test --pool pool01.contoso.test "$@"
}

cmd_clean() {
    rm -rf "$BUILD"
    find mod_* common test -name '*.lo' -o -name '*.slo' -o -name '*.la' -o -name '*.o' | xargs rm -f
    rm -rf mod_*/.libs
}

case "${1:-}" in
    build|install|run|test|bench|check|clean) c=$1; shift; "cmd_$c" "$@" ;;
    *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
