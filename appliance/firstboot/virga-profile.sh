# shellcheck shell=sh
# virga appliance login hook: settings for every user; members of the 'virga' group land in the
# TUI on an interactive terminal login (quit the TUI for a shell; VIRGA_NO_TUI=1 skips it).
if [ -r /etc/virga/virga.env ]; then
    set -a
    # shellcheck source=/dev/null
    . /etc/virga/virga.env
    set +a
fi
if [ -z "${VIRGA_NO_TUI:-}" ] && [ -z "${VIRGA_TUI_ACTIVE:-}" ] && [ -t 0 ] && [ -t 1 ] \
    && [ "$(id -u)" -ne 0 ]; then
    case " $(id -Gn) " in
        *" virga "*) /usr/lib/virga/virga-tui || true ;;
    esac
fi
