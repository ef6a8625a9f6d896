#!/bin/sh
# Entry point of the Kratos containers: fills the ${NAME} placeholders of kratos.yml from
# the environment into a private copy, then runs kratos with it. Kratos itself has no
# placeholder syntax, and this keeps every secret out of the committed config.
#
# Usage: render-config.sh <kratos arguments...>   e.g. render-config.sh serve --watch-courier
# KRATOS_CONFIG_TEMPLATE and KRATOS_CONFIG_RENDERED override the two paths (default: the template
# in KRATOS_CONFIG_DIR).
set -eu

: "${GATEWAY_HOOK_BASE_URL:=http://gateway:3000}"
: "${KRATOS_ADMIN_BASE_URL:=http://kratos:4434}"
: "${KRATOS_CONFIG_DIR:=/etc/config/kratos}"
export GATEWAY_HOOK_BASE_URL KRATOS_ADMIN_BASE_URL KRATOS_CONFIG_DIR

template=${KRATOS_CONFIG_TEMPLATE:-$KRATOS_CONFIG_DIR/kratos.yml}
rendered=${KRATOS_CONFIG_RENDERED:-/tmp/kratos/kratos.yml}

umask 077
mkdir -p "$(dirname "$rendered")"

# Values are copied verbatim (awk string concatenation, no regex replacement), so any
# character in a secret is safe; an unset or empty variable is an error, never "".
awk '
{
  rest = $0
  out = ""
  while (match(rest, /\$\{[A-Z_][A-Z0-9_]*\}/)) {
    name = substr(rest, RSTART + 2, RLENGTH - 3)
    if (ENVIRON[name] == "") {
      print "render-config: " name " is not set" > "/dev/stderr"
      missing = 1
    }
    out = out substr(rest, 1, RSTART - 1) ENVIRON[name]
    rest = substr(rest, RSTART + RLENGTH)
  }
  print out rest
}
END { exit missing }
' "$template" >"$rendered"

# KRATOS_BIN names the binary when it is not on PATH (the real-stack tests).
exec "${KRATOS_BIN:-kratos}" "$@" --config "$rendered"
