#!/bin/sh
# Entry point of the Kratos containers: fills the ${NAME} placeholders of kratos.yml into a
# private copy, then runs kratos with it. Kratos itself has no placeholder syntax, and this
# keeps every secret out of the committed config.
#
# Each placeholder ${NAME} takes its value from the environment variable NAME, or from the
# file that NAME_FILE names (a Docker secret under /run/secrets; one trailing newline is
# dropped). Setting both, an unreadable or empty file, or neither is an error that names the
# variable and never prints a value. Values read from files stay out of every environment:
# they go straight into the rendered copy (mode 0600, on the container's tmpfs), from which
# Kratos reads all of them, the DSN included (`migrate sql -e` reads the DSN from --config too).
#
# Usage: render-config.sh <kratos arguments...>   e.g. render-config.sh serve --watch-courier
# KRATOS_CONFIG_TEMPLATE and KRATOS_CONFIG_RENDERED override the two paths (default: the template
# in KRATOS_CONFIG_DIR). KRATOS_CONFIG_OVERLAYS names further templates in KRATOS_CONFIG_DIR,
# separated by spaces (e.g. social-sign-in.yml); each is rendered the same way next to the
# rendered copy and given to Kratos as a further --config, which overrides the ones before it.
set -eu

case "${1:-}" in
  -h | --help)
    # The header comment above is the manual.
    sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
    ;;
esac

: "${GATEWAY_HOOK_BASE_URL:=http://gateway:3000}"
: "${KRATOS_ADMIN_BASE_URL:=http://kratos:4434}"
: "${KRATOS_CONFIG_DIR:=/etc/config/kratos}"
export GATEWAY_HOOK_BASE_URL KRATOS_ADMIN_BASE_URL KRATOS_CONFIG_DIR

# SMS is optional. Without a provider (SMS_PROVIDER_URL unset or empty, and no key, or an empty
# key file as compose mounts for an empty SMS_PROVIDER_API_KEY) the courier's sms channel gets
# a closed local port and a stand-in key, so Kratos starts and any SMS it queued fails to send.
if [ -z "${SMS_PROVIDER_URL:-}" ]; then
  SMS_PROVIDER_URL=http://127.0.0.1:9/sms-not-configured
  if [ -n "${SMS_PROVIDER_API_KEY_FILE:-}" ] && [ ! -s "$SMS_PROVIDER_API_KEY_FILE" ]; then
    unset SMS_PROVIDER_API_KEY_FILE
  fi
  if [ -z "${SMS_PROVIDER_API_KEY:-}" ] && [ -z "${SMS_PROVIDER_API_KEY_FILE:-}" ]; then
    SMS_PROVIDER_API_KEY=not-configured
  fi
  export SMS_PROVIDER_URL SMS_PROVIDER_API_KEY
fi

template=${KRATOS_CONFIG_TEMPLATE:-$KRATOS_CONFIG_DIR/kratos.yml}
rendered=${KRATOS_CONFIG_RENDERED:-/tmp/kratos/kratos.yml}

umask 077
mkdir -p "$(dirname "$rendered")"

# Values are copied verbatim (awk string concatenation, no regex replacement), so any
# character in a secret is safe. Every problem is reported (by name) before it exits.
render() {
awk '
function fail(message) {
  print "render-config: " message > "/dev/stderr"
  failed = 1
}
# The value of placeholder `name`: from NAME, or from the file NAME_FILE names. Resolved once.
function value(name,    path, text, line, status, lines) {
  if (name in resolved) return resolved[name]
  path = ENVIRON[name "_FILE"]
  text = ""
  if (path != "" && ENVIRON[name] != "") {
    fail(name " and " name "_FILE are both set; use one")
  } else if (path != "") {
    lines = 0
    while ((status = (getline line < path)) > 0) {
      text = (lines++ == 0) ? line : text "\n" line
    }
    close(path)
    if (status < 0) fail(name "_FILE: cannot read the file it names")
    else if (text == "") fail(name "_FILE names an empty file")
  } else {
    text = ENVIRON[name]
    if (text == "") fail(name " is not set (set " name " or " name "_FILE)")
  }
  resolved[name] = text
  return text
}
{
  rest = $0
  out = ""
  while (match(rest, /\$\{[A-Z_][A-Z0-9_]*\}/)) {
    name = substr(rest, RSTART + 2, RLENGTH - 3)
    out = out substr(rest, 1, RSTART - 1) value(name)
    rest = substr(rest, RSTART + RLENGTH)
  }
  print out rest
}
END { exit failed }
' "$1" >"$2"
}
if ! render "$template" "$rendered"; then
  rm -f "$rendered"
  exit 1
fi
set -- "$@" --config "$rendered"
for overlay in ${KRATOS_CONFIG_OVERLAYS:-}; do
  case "$overlay" in
    */* | .*)
      echo "render-config: KRATOS_CONFIG_OVERLAYS names files in KRATOS_CONFIG_DIR: $overlay" >&2
      exit 1
      ;;
  esac
  out="$(dirname "$rendered")/overlay-$overlay"
  if ! render "$KRATOS_CONFIG_DIR/$overlay" "$out"; then
    rm -f "$rendered" "$out"
    exit 1
  fi
  set -- "$@" --config "$out"
done
# KRATOS_BIN names the binary when it is not on PATH (the real-stack tests).
exec "${KRATOS_BIN:-kratos}" "$@"
