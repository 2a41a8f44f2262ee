#!/usr/bin/env bash
# virga's daily driver: ./dev.sh run | test | demo | lint | bench [--short] | setup
# Installs what it needs first: apt packages (when root), a venv in .venv, and virga with its extras.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3-venv python3-dev gcc pkg-config curl ca-certificates tmux
  libvirt-daemon-system libvirt-dev qemu-system-x86 qemu-utils qemu-block-extra
  dnsmasq-base nftables haproxy iproute2 busybox-static cpio mtools syslinux syslinux-common extlinux dosfstools kmod
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils util-linux
  golang-go golang-github-vmware-govmomi-dev openssh-server sshpass shellcheck openssl
  ruby vagrant vagrant-libvirt debootstrap sudo e2fsprogs fdisk genisoimage postgresql
)

apt_install() {
  [ "$(id -u)" = 0 ] || { echo "dev.sh: not root: skipping apt packages (${APT_PACKAGES[*]})" >&2; return 0; }
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
  fi
  local stamp=.venv/.virga-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    .venv/bin/pip install -q -e '.[test]'
    .venv/bin/pip install -q -e '.[libvirt]' || echo "dev.sh: libvirt-python did not build (needs libvirt-dev)" >&2
    touch "$stamp"
  fi
  .venv/bin/python scripts/typecheck.py --tree  # virga as mypy and editors see it: .venv/virga-typing
}

setup() { apt_install; venv; }

case "${1:-run}" in
  setup) setup ;;
  run)
    setup
    .venv/bin/virga demo --no-tui >/dev/null 2>&1 || true
    exec .venv/bin/virga "${@:2}" ;;
  demo) setup; exec .venv/bin/virga demo "${@:2}" ;;
  test)
    setup
    .venv/bin/python -m pytest -q -p no:cacheprovider "${@:2}" || exit $?
    if [ $# -le 1 ]; then  # the whole run: the API suite once more, every in-process server on PostgreSQL
      .venv/bin/python -m pytest -q -p no:cacheprovider -p tests.pg.api_on_pg tests/api \
        --deselect tests/api/test_restart.py --deselect tests/api/test_cs_client.py
    fi ;;
  lint)  # tests/test_lint.py runs this too (--no-setup), so CI enforces it
    [ "${2:-}" = --no-setup ] || setup
    .venv/bin/ruff check app drivers appliance tests bench scripts
    .venv/bin/ruff format --check app drivers appliance tests bench scripts
    .venv/bin/python scripts/typecheck.py ;;  # mypy -p virga, through the link tree
  bench)  # ./dev.sh bench: the full benchmarks; ./dev.sh bench --short: each in seconds (what tests/bench runs)
    setup; failed=0
    for b in bench/[!_]*.py; do echo "== $b ${*:2}"; .venv/bin/python "$b" "${@:2}" || failed=1; done
    exit $failed ;;
  *) echo "usage: ./dev.sh run|test|demo|lint|bench [--short]|setup" >&2; exit 2 ;;
esac
