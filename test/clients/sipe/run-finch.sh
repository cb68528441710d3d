#!/bin/sh
# Runs finch (in a tmux pane, which gives it the terminal it needs) with libpurple's and
# pidgin-sipe's debug output (-d, full HTTP/SIP dumps) going to LOGFILE. Started by
# finch_sipe.py, not meant to be run by hand.
#
#   run-finch.sh PIDFILE LOGFILE CONFDIR PRELOAD [HOSTS]
#
# PIDFILE gets this shell's pid, which stays finch's pid: every step below is an exec.
# PRELOAD is the libxml2 shim (saxfix.so). With HOSTS, finch runs in a private mount
# namespace where HOSTS is bind-mounted over /etc/hosts: glibc (and so finch and its DNS
# helper processes) resolves the test's names from it, and the real file is not touched.
set -eu
pidfile=$1 log=$2 confdir=$3 preload=$4 hosts=${5:-}
echo $$ > "$pidfile"
if [ -n "$hosts" ]; then
    exec unshare --mount --propagation private sh -c \
        'mount --bind "$1" /etc/hosts && exec env LD_PRELOAD="$2" PURPLE_UNSAFE_DEBUG=1 finch -d -c "$3"' \
        sh "$hosts" "$preload" "$confdir" 2>"$log"
fi
exec env LD_PRELOAD="$preload" PURPLE_UNSAFE_DEBUG=1 finch -d -c "$confdir" 2>"$log"
