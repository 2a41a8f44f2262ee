#!/bin/bash
# run-in-chroot.sh ROOT [SRC:DEST]... -- COMMAND...: run COMMAND inside the Debian tree ROOT
# with /proc, /sys, /dev and the given bind mounts (DEST inside ROOT), in a private mount
# namespace (every mount disappears with the process, even on failure), with daemons kept
# from starting (policy-rc.d) and the host's resolver.
set -eu -o pipefail

if [ -z "${VIRGA_IN_NS:-}" ]; then
    exec env VIRGA_IN_NS=1 unshare --mount --propagation private "$0" "$@"
fi

ROOT=$1
shift
BINDS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    BINDS+=("$1")
    shift
done
[ $# -gt 1 ] || { echo "usage: $0 ROOT [SRC:DEST]... -- COMMAND..." >&2; exit 2; }
shift

mount -t proc proc "$ROOT/proc"
mount -t sysfs -o ro sysfs "$ROOT/sys"
mount --rbind /dev "$ROOT/dev"
for bind in "${BINDS[@]}"; do
    mkdir -p "$ROOT/${bind#*:}"
    mount --bind "${bind%%:*}" "$ROOT/${bind#*:}"
done
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
status=0
chroot "$ROOT" "$@" || status=$?
rm -f "$ROOT/usr/sbin/policy-rc.d"
exit "$status"
