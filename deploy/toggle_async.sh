#!/usr/bin/env bash
# The old service's switch, kept for the operators who know it. It no longer edits .env or restarts
# anything: it calls the admin API, and every worker of every instance follows within 2 s.
#
#   deploy/toggle_async.sh status           # the mode in force (GET /api/admin/mode)
#   deploy/toggle_async.sh enable [SHARE]   # async path (for SHARE of the players, 0..1; default all)
#   deploy/toggle_async.sh disable          # back to the path it replaced: the synchronous client (sync)
#   deploy/toggle_async.sh off              # no LLM at all: the rules parser only (the emergency rollback)
#
# ADMIN_URL (default http://127.0.0.1:8000) is any instance; XIANXIA_ADMIN_TOKEN the admin token.
# Exit status: 0 done, 1 the API refused or could not be reached, 2 wrong usage.
set -euo pipefail

ADMIN_URL="${ADMIN_URL:-http://127.0.0.1:8000}"
REASON="${REASON:-toggle_async.sh ${1:-}}"

usage() {
    echo "usage: $0 enable [SHARE] | disable | off | status" >&2
    exit 2
}

if [ -z "${XIANXIA_ADMIN_TOKEN:-}" ]; then
    echo "XIANXIA_ADMIN_TOKEN is not set: export the admin token of the instances" >&2
    exit 2
fi

call() {
    # $1 method, $2 JSON body (optional). Prints the answer; fails on a non-2xx answer.
    local args=(--silent --show-error --fail-with-body --max-time 10
        -H "Authorization: Bearer ${XIANXIA_ADMIN_TOKEN}" -X "$1")
    if [ -n "${2:-}" ]; then
        args+=(-H "Content-Type: application/json" --data "$2")
    fi
    if ! curl "${args[@]}" "${ADMIN_URL%/}/api/admin/mode"; then
        echo >&2
        echo "the admin API at ${ADMIN_URL} refused or did not answer" >&2
        return 1
    fi
    echo
}

body() {
    # $1 mode, $2 share (optional)
    local reason="${REASON//\"/\'}"
    if [ -n "${2:-}" ]; then
        printf '{"mode":"%s","share":%s,"reason":"%s"}' "$1" "$2" "$reason"
    else
        printf '{"mode":"%s","reason":"%s"}' "$1" "$reason"
    fi
}

case "${1:-}" in
    status) call GET ;;
    enable)
        if [ -n "${2:-}" ] && ! [[ "$2" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]]; then
            echo "SHARE must be a number from 0 to 1, not '$2'" >&2
            exit 2
        fi
        call PUT "$(body async "${2:-}")"
        ;;
    disable) call PUT "$(body sync)" ;;
    off) call PUT "$(body off)" ;;
    *) usage ;;
esac
