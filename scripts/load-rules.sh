#!/usr/bin/env bash
# load-rules.sh - load the Botpress rule groups into a Grafana Cloud stack's Prometheus ruler
# (or any Mimir/Cortex ruler): one POST per rule group, the way the ruler API wants them.
# Needs: bash >= 3.2, curl, awk. The token reaches curl on stdin, never on a command line.
set -euo pipefail

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
DEFAULT_FILE="$HERE/../rules/botpress-rules.yaml"

usage() {
  cat <<'EOF'
Usage: load-rules.sh [options] [RULE_FILE...]

Loads every rule group of each RULE_FILE (default: rules/botpress-rules.yaml, as
`npm run rules` writes it) into the ruler of a Grafana Cloud stack:
POST <url>/config/v1/rules/<namespace>, one group per request. A group that is
already there is replaced; other groups of the namespace are left alone.

Connection (flags win over the environment):
  --url URL          the stack's Prometheus URL, ending in /api/prom     [$GRAFANA_PROM_URL]
                     (Grafana Cloud portal -> your stack -> Prometheus -> "Details"),
                     e.g. https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom
  --user ID          Basic-auth user: the Prometheus instance ID         [$GRAFANA_USER_ID]
  --token-file FILE  read the token from FILE (first line)
                     The token is read from $GRAFANA_RULES_TOKEN or --token-file only,
                     never from a flag. It needs the rules:write scope (Cloud access
                     policies -> a policy with rules:read and rules:write -> Add token).
                     With a token but no user ID it is sent as a Bearer token.

What to load:
  --namespace NS     the ruler namespace (Grafana shows it as the folder) (default: botpress)
  --dry-run          split the files and print each group as it would be sent; send nothing

  -h, --help         this text

Example:
  export GRAFANA_PROM_URL=https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom
  export GRAFANA_USER_ID=1234567
  read -rs GRAFANA_RULES_TOKEN && export GRAFANA_RULES_TOKEN   # paste the token, not echoed
  ./scripts/load-rules.sh

Exit status: 0 when every group was loaded; non-zero at the first refusal (the groups
before it stay loaded).
EOF
}

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

need_arg() {
  [ "$#" -ge 2 ] || die "$1 needs a value (see --help)"
}

URL=${GRAFANA_PROM_URL:-}
USER_ID=${GRAFANA_USER_ID:-}
TOKEN=${GRAFANA_RULES_TOKEN:-}
# Children (curl, awk) do not need the token in their environment: it reaches curl on stdin.
export -n GRAFANA_RULES_TOKEN 2>/dev/null || true
TOKEN_FILE=
NAMESPACE=botpress
DRY_RUN=0
FILES=()
TMPD=

parse_args() {
  while [ "$#" -gt 0 ]; do
    local opt=$1
    case $opt in
    --*=*)
      local val=${opt#*=}
      opt=${opt%%=*}
      shift
      set -- "$opt" "$val" "$@"
      continue
      ;;
    esac
    case $opt in
    -h | --help)
      usage
      exit 0
      ;;
    --url) need_arg "$@"; URL=$2; shift 2 ;;
    --user) need_arg "$@"; USER_ID=$2; shift 2 ;;
    --token-file) need_arg "$@"; TOKEN_FILE=$2; shift 2 ;;
    --token | --password | --api-key)
      die "$opt is not accepted: a token on the command line is visible to every user (ps). Use GRAFANA_RULES_TOKEN or --token-file."
      ;;
    --namespace) need_arg "$@"; NAMESPACE=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --) shift; FILES+=("$@"); break ;;
    -*) die "unknown option $opt (see --help)" ;;
    *) FILES+=("$1"); shift ;;
    esac
  done
  if [ "${#FILES[@]}" -eq 0 ]; then FILES=("$DEFAULT_FILE"); fi
}

check_args() {
  case $NAMESPACE in
  '' | *[!A-Za-z0-9_.-]*) die "--namespace must be letters, digits, '_', '-' or '.': $NAMESPACE" ;;
  esac
  local f
  for f in "${FILES[@]}"; do
    if [ ! -f "$f" ] || [ ! -r "$f" ]; then die "cannot read the rule file $f"; fi
  done
  [ "$DRY_RUN" = 1 ] && return 0
  command -v curl >/dev/null 2>&1 || die "curl is required"
  [ -n "$URL" ] || die "no ruler URL: set GRAFANA_PROM_URL or --url (the stack's Prometheus URL ending in /api/prom)"
  URL=${URL%/}
  case $URL in
  https://*) ;;
  http://127.0.0.1[:/]* | http://127.0.0.1 | http://localhost[:/]* | http://localhost) ;;
  http://*) die "--url must use https:// (the token would travel unencrypted); plain http:// only for localhost" ;;
  *) die "--url must start with https://: $URL" ;;
  esac
  case $URL in
  *'?'* | *'#'* | *' '*) die "--url must be a plain URL without a query, a fragment or spaces: $URL" ;;
  esac
  if [ -n "$TOKEN_FILE" ]; then
    [ -r "$TOKEN_FILE" ] || die "cannot read --token-file $TOKEN_FILE"
    IFS= read -r TOKEN <"$TOKEN_FILE" || [ -n "$TOKEN" ] || die "--token-file $TOKEN_FILE is empty"
    TOKEN=${TOKEN%$'\r'}
  fi
  [ -n "$TOKEN" ] || die "no token: set GRAFANA_RULES_TOKEN (a token with rules:write) or use --token-file"
}

# curl reads its credentials from stdin (-K -): never argv, never a file.
cfg_quote() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

curl_config() {
  if [ -n "$USER_ID" ]; then
    printf 'user = %s\n' "$(cfg_quote "$USER_ID:$TOKEN")"
  else
    printf 'header = %s\n' "$(cfg_quote "Authorization: Bearer $TOKEN")"
  fi
}

# split FILE PREFIX: writes each group of FILE's `groups:` list to PREFIX.N (its own YAML
# document, as the ruler API takes it) and prints N. Reads the block style `npm run rules`
# writes: `groups:` at column 0, each group a `  - ` item, its lines indented by four.
split_groups() {
  awk -v prefix="$2" '
    function fail(why) { printf "line %d: %s\n", NR, why > "/dev/stderr"; bad = 1; exit 1 }
    /^    / { if (n == 0) fail("indented line before the first group"); print substr($0, 5) > (prefix "." n); next }
    /^[ ]*$/ { if (n > 0) print "" > (prefix "." n); next }
    /^[ ]*#/ { next }
    !seen && /^groups:[ ]*$/ { seen = 1; next }
    !seen { fail("expected \"groups:\" before anything else") }
    /^  - / {
      if (n > 0) close(prefix "." n)
      n++
      line = substr($0, 5)
      if (line !~ /^name: /) fail("a group must start with its name (\"  - name: ...\")")
      print line > (prefix "." n)
      next
    }
    { fail("not a rule group line (is this a rule file as npm run rules writes it?)") }
    END {
      if (bad) exit 1
      if (!seen) { print "no \"groups:\" in the file" > "/dev/stderr"; exit 1 }
      if (n == 0) { print "no rule group in the file" > "/dev/stderr"; exit 1 }
      print n
    }
  ' "$1"
}

group_name() {
  sed -n '1s/^name: *//p' "$1"
}

server_message() { # FILE -> a short message from an error answer
  local msg
  msg=$(head -c 300 "$1" 2>/dev/null | tr '\r\n\t' '   ') || msg=
  printf '%s' "${msg:-(empty answer)}"
}

post_group() { # FILE NAME
  local body=$1 name=$2 out="$TMPD/answer" errf="$TMPD/curl.err" code rc=0
  code=$(curl_config | curl -q -sS -K - --connect-timeout 10 --max-time 30 -X POST \
    -H 'Content-Type: application/yaml' --data-binary "@$body" -o "$out" -w '%{http_code}' \
    "$URL/config/v1/rules/$NAMESPACE" 2>"$errf") || rc=$?
  case $code in
  2??) [ "$rc" = 0 ] && return 0 ;;
  401) die "the ruler refused the credentials (HTTP 401) for group $name: check GRAFANA_USER_ID (the stack's Prometheus instance ID) and that GRAFANA_RULES_TOKEN is right and not revoked (server said: $(server_message "$out"))" ;;
  403) die "the token may not write rules (HTTP 403) for group $name: it needs the rules:write scope (Cloud access policies -> the token's policy -> add rules:read and rules:write) (server said: $(server_message "$out"))" ;;
  404) die "no ruler at $URL (HTTP 404): use the stack's Prometheus URL, ending in /api/prom (server said: $(server_message "$out"))" ;;
  400) die "the ruler refused group $name (HTTP 400): $(server_message "$out")" ;;
  000 | '') die "cannot reach $URL: $(tr '\n' ' ' <"$errf")" ;;
  esac
  die "unexpected answer (HTTP $code) for group $name: $(server_message "$out")"
}

cleanup() {
  [ -z "$TMPD" ] || rm -rf "$TMPD"
}

main() {
  parse_args "$@"
  check_args
  TMPD=$(mktemp -d "${TMPDIR:-/tmp}/load-rules.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local f i n k=0 name
  for f in "${FILES[@]}"; do
    k=$((k + 1))
    n=$(split_groups "$f" "$TMPD/group-$k") || die "cannot read the rule groups of $f"
    i=1
    while [ "$i" -le "$n" ]; do
      name=$(group_name "$TMPD/group-$k.$i")
      if [ "$DRY_RUN" = 1 ]; then
        printf -- '--- group %s (POST <url>/config/v1/rules/%s)\n' "$name" "$NAMESPACE"
        cat "$TMPD/group-$k.$i"
      else
        post_group "$TMPD/group-$k.$i" "$name"
        note "loaded rule group $name into namespace $NAMESPACE"
      fi
      i=$((i + 1))
    done
  done
}

main "$@"
