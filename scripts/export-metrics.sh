#!/usr/bin/env bash
# export-metrics.sh - copy every raw sample of the bot's metrics out of Grafana Cloud
# (or any Prometheus-compatible API) before the 14-day retention drops it.
# Needs: bash >= 3.2, curl, jq (1.6+), and POSIX sort, cut, uniq, awk. No GNU-only tools, no `date`.
set -euo pipefail

PROG=${0##*/}
# The union of {__name__=~".+_metric"} and {__mimir_source__="influx"}, written so that no
# series is fetched twice (on Grafana Cloud every _metric series also has __mimir_source__).
DEFAULT_MATCHES='{__name__=~".+_metric"}
{__mimir_source__="influx",__name__!~".+_metric"}'

usage() {
  cat <<'EOF'
Usage: export-metrics.sh [options]

Exports raw samples (not resampled) from Grafana Cloud's Prometheus API - or any
Prometheus-compatible API such as Prometheus or VictoriaMetrics - to a file.

Connection (flags win over the environment):
  --url URL          Prometheus API base URL                      [$GRAFANA_PROM_URL]
                     Grafana Cloud: https://prometheus-prod-NN-prod-REGION.grafana.net/api/prom
                     (Grafana Cloud portal -> your stack -> Prometheus -> "Details").
                     Local Prometheus / VictoriaMetrics: http://127.0.0.1:9090
  --user ID          Basic-auth user: the Prometheus instance ID  [$GRAFANA_USER_ID]
  --token-file FILE  read the token from FILE (first line)
                     The token is read from $GRAFANA_READ_TOKEN or --token-file only,
                     never from a flag. It needs the metrics:read scope (Grafana Cloud
                     portal -> Access Policies -> create a policy with metrics:read ->
                     add a token). It is not the integration's write key.
                     With a token but no user ID it is sent as a Bearer token.

What to export:
  --from TIME        start, exclusive (default: 14d, i.e. 14 days before now)
  --to TIME          end, inclusive   (default: now)
                     TIME: now | 14d | 6h | 30m | 90s | 2w (= that long before now) |
                     ISO 8601: 2026-11-01, 2026-11-01T08:30:00Z, 2026-11-01T10:30:00+02:00
                     (no zone = UTC) | unix seconds (1764000000). Sub-seconds are dropped.
                     A sample at exactly --to is exported, one at exactly --from is not,
                     so consecutive runs (--from A --to B, then --from B --to C) never overlap.
  --match SELECTOR   series selector; repeat for a union (each series exported once).
                     Default: every series the integration's cards produce, the union of
                       {__name__=~".+_metric"}      (Send Metric: <name>_metric)
                       {__mimir_source__="influx"}  (everything written via the influx
                                                     endpoint, i.e. Send Raw Data too)
                     (queried as {__name__=~".+_metric"} and
                      {__mimir_source__="influx",__name__!~".+_metric"}: nothing twice)
                     Everything: --match '{__name__=~".+"}'

Output:
  --format FMT       csv (default) | jsonl | openmetrics
                     csv:         header "timestamp,metric,<one column per label>,value";
                                  ISO 8601 UTC timestamps with milliseconds; RFC 4180 quoting.
                     jsonl:       VictoriaMetrics /api/v1/import lines:
                                  {"metric":{...},"values":[...],"timestamps":[ms,...]}
                     openmetrics: for `promtool tsdb create-blocks-from openmetrics FILE DIR`
                                  (seconds timestamps, families grouped, series sorted, # EOF)
  --out FILE         output file (default: metrics-export.<csv|jsonl|om>); "-" = stdout.
                     Written to a temp file next to it and renamed only when complete;
                     re-running replaces the file (never appends). Created with mode 0600.
                     A device or named pipe (e.g. /dev/null) is written to, not replaced.
  --quiet            no progress (progress is shown only when stderr is a terminal)

Tuning (defaults are fine for Grafana Cloud):
  --chunk DUR        time window per query (default 1d). A window the server refuses as
                     too large is halved, down to --min-chunk, then queried series by series.
  --min-chunk DUR    (default 1h)
  --timeout SEC      per request (default 120)
  --retries N        retries on 429, 5xx and network errors, with backoff (default 5)
  --retry-delay SEC  first backoff delay, doubled each retry, at most 30 (default 1)
  -h, --help         this text

Examples:
  export GRAFANA_PROM_URL=https://prometheus-prod-13-prod-us-east-0.grafana.net/api/prom
  export GRAFANA_USER_ID=123456
  read -rs GRAFANA_READ_TOKEN && export GRAFANA_READ_TOKEN   # paste the token, not echoed
  ./scripts/export-metrics.sh --format csv --out bot-metrics.csv
  ./scripts/export-metrics.sh --format jsonl --from 2026-11-01 --to 2026-11-15 --out nov.jsonl
  ./scripts/export-metrics.sh --format openmetrics --out archive.om
      promtool tsdb create-blocks-from openmetrics archive.om ./data   # then serve with
      prometheus --storage.tsdb.path=./data --storage.tsdb.retention.time=100y
  curl -u USER:PASS --data-binary @nov.jsonl http://victoria:8428/api/v1/import

Exit status: 0 on success; non-zero on any error (nothing is left at --out then).
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

# ---------------------------------------------------------------- options
URL=${GRAFANA_PROM_URL:-}
USER_ID=${GRAFANA_USER_ID:-}
TOKEN=${GRAFANA_READ_TOKEN:-}
# Children (curl, jq) do not need the token in their environment: it reaches curl on stdin.
export -n GRAFANA_READ_TOKEN 2>/dev/null || true
TOKEN_FILE=
FROM_ARG=14d
TO_ARG=now
MATCHES=
FORMAT=csv
OUT=
QUIET=0
CHUNK_ARG=1d
MIN_CHUNK_ARG=1h
TIMEOUT=120
RETRIES=5
RETRY_DELAY=1

while [ "$#" -gt 0 ]; do
  opt=$1
  case $opt in
  --*=*)
    val=${opt#*=}
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
    die "$opt is not accepted: a token on the command line is visible to every user (ps). Use GRAFANA_READ_TOKEN or --token-file."
    ;;
  --from) need_arg "$@"; FROM_ARG=$2; shift 2 ;;
  --to) need_arg "$@"; TO_ARG=$2; shift 2 ;;
  --match)
    need_arg "$@"
    case $2 in *$'\n'* | *$'\t'*) die "--match must be one line without tabs" ;; esac
    if [ -z "$MATCHES" ]; then MATCHES=$2; else MATCHES="$MATCHES"$'\n'"$2"; fi
    shift 2
    ;;
  --format) need_arg "$@"; FORMAT=$2; shift 2 ;;
  --out) need_arg "$@"; OUT=$2; shift 2 ;;
  --quiet | -q) QUIET=1; shift ;;
  --chunk) need_arg "$@"; CHUNK_ARG=$2; shift 2 ;;
  --min-chunk) need_arg "$@"; MIN_CHUNK_ARG=$2; shift 2 ;;
  --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
  --retries) need_arg "$@"; RETRIES=$2; shift 2 ;;
  --retry-delay) need_arg "$@"; RETRY_DELAY=$2; shift 2 ;;
  *) die "unknown option: $opt (see --help)" ;;
  esac
done

command -v curl >/dev/null 2>&1 || die "curl is required"
command -v jq >/dev/null 2>&1 || die "jq is required"

case $FORMAT in
csv) EXT=csv ;;
jsonl) EXT=jsonl ;;
openmetrics) EXT=om ;;
*) die "--format must be csv, jsonl or openmetrics (got: $FORMAT)" ;;
esac
[ -n "$OUT" ] || OUT=metrics-export.$EXT
[ -n "$MATCHES" ] || MATCHES=$DEFAULT_MATCHES
[ -n "$URL" ] || die "no URL: set GRAFANA_PROM_URL or pass --url (see --help)"
case $URL in
http://* | https://*) ;;
*) die "--url must start with http:// or https:// (got: $URL)" ;;
esac
case ${URL#*://} in
*@*) die "--url must not contain credentials: use GRAFANA_USER_ID and GRAFANA_READ_TOKEN" ;;
esac
while :; do
  case $URL in */) URL=${URL%/} ;; *) break ;; esac
done
case $RETRIES in '' | *[!0-9]*) die "--retries must be a whole number" ;; esac
[ "$RETRIES" -le 20 ] || die "--retries must be at most 20"
case $TIMEOUT in '' | *[!0-9]*) die "--timeout must be whole seconds" ;; esac
case $RETRY_DELAY in '' | *[!0-9.]* | *.*.*) die "--retry-delay must be a number of seconds" ;; esac

if [ -n "$TOKEN_FILE" ]; then
  [ -r "$TOKEN_FILE" ] || die "cannot read --token-file $TOKEN_FILE"
  TOKEN=
  IFS= read -r TOKEN <"$TOKEN_FILE" || [ -n "$TOKEN" ] || die "--token-file $TOKEN_FILE is empty"
fi
TOKEN=${TOKEN%$'\r'}

# ---------------------------------------------------------------- times (jq does the arithmetic: no `date`)
# shellcheck disable=SC2016 # jq programs are single-quoted on purpose
JQ_TIME_DEFS='
def dur_seconds:
  capture("^(?<n>[0-9]+)(?<u>[smhdw])$") as $m
  | ($m.n | tonumber) * ({"s":1,"m":60,"h":3600,"d":86400,"w":604800}[$m.u]);
def civil_days($y; $mo; $d):
  (if $mo <= 2 then $y - 1 else $y end) as $yy
  | (($yy - (if $yy >= 0 then 0 else 399 end)) / 400 | floor) as $era
  | ($yy - $era * 400) as $yoe
  | (((153 * (if $mo > 2 then $mo - 3 else $mo + 9 end) + 2) / 5 | floor) + $d - 1) as $doy
  | ($yoe * 365 + ($yoe / 4 | floor) - ($yoe / 100 | floor) + $doy) as $doe
  | $era * 146097 + $doe - 719468;
def parse_time($now):
  . as $in
  | if . == "now" then $now
    elif test("^(now)?-?[0-9]+[smhdw]$") then $now - (sub("^(now)?-?"; "") | dur_seconds)
    elif test("^[0-9]{9,11}$") then tonumber
    elif test("^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$") then
      capture("^(?<y>[0-9]{4})-(?<mo>[0-9]{2})-(?<d>[0-9]{2})([T ](?<h>[0-9]{2}):(?<mi>[0-9]{2})(:(?<s>[0-9]{2})([.,][0-9]+)?)?)?(?<z>Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$") as $c
      | ($c.y|tonumber) as $y | ($c.mo|tonumber) as $mo | ($c.d|tonumber) as $d
      | (($c.h // "0")|tonumber) as $h | (($c.mi // "0")|tonumber) as $mi | (($c.s // "0")|tonumber) as $s
      | (if $mo < 1 or $mo > 12 or $d < 1 or $h > 23 or $mi > 59 or $s > 60 then error("bad date or time: \($in)") else . end)
      | (civil_days($y; $mo; $d)) as $days
      | (if ($days * 86400 | todate | .[0:10]) != "\($c.y)-\($c.mo)-\($c.d)" then error("no such day: \($in)") else . end)
      | (if ($c.z // "Z") | test("^[Zz]$") then 0
         else ($c.z | capture("^(?<sg>[+-])(?<zh>[0-9]{2}):?(?<zm>[0-9]{2})?$")) as $z
           | ((($z.zh|tonumber) * 3600 + (($z.zm // "0")|tonumber) * 60) * (if $z.sg == "-" then -1 else 1 end))
         end) as $off
      | $days * 86400 + $h * 3600 + $mi * 60 + $s - $off
    else error("cannot read the time \"\($in)\": use now, 14d, 6h, 2026-11-01, 2026-11-01T08:30:00Z or unix seconds")
    end;
'
if ! TIMES=$(jq -nr --arg from "$FROM_ARG" --arg to "$TO_ARG" --arg chunk "$CHUNK_ARG" --arg min "$MIN_CHUNK_ARG" \
  "$JQ_TIME_DEFS"'
  (now | floor) as $now
  | def dur($name): . as $v | try dur_seconds catch error("\($name) must look like 30m, 6h or 1d (got \($v))");
  [($from | parse_time($now)), ($to | parse_time($now)), ($chunk | dur("--chunk")), ($min | dur("--min-chunk"))]
  | map(floor | tostring) | join(" ")' 2>&1); then
  die "${TIMES#jq: error (at <unknown>): }"
fi
read -r FROM TO CHUNK MIN_CHUNK <<EOF
$TIMES
EOF
[ "$FROM" -lt "$TO" ] || die "--from must be before --to"
[ "$CHUNK" -ge 1 ] || die "--chunk must be at least 1s"
[ "$MIN_CHUNK" -ge 1 ] || die "--min-chunk must be at least 1s"
NCHUNKS=$(((TO - FROM + CHUNK - 1) / CHUNK))
[ "$NCHUNKS" -le 100000 ] || die "$NCHUNKS windows: raise --chunk"

# ---------------------------------------------------------------- temp files, cleanup
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/export-metrics.XXXXXX") || die "cannot create a temp folder"
PARTIAL=
BG_PIDS=' '
bg_started() { BG_PIDS="$BG_PIDS$1 "; }
bg_wait() { # PID: its exit status; then forgotten, so that cleanup never signals a reused PID
  local rc=0
  wait "$1" || rc=$?
  BG_PIDS=${BG_PIDS/ $1 / }
  return "$rc"
}
cleanup() {
  # shellcheck disable=SC2086 # one PID per word
  [ "$BG_PIDS" = ' ' ] || kill $BG_PIDS 2>/dev/null || true
  [ -z "$PARTIAL" ] || rm -f "$PARTIAL"
  rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

PROGRESS=0
if [ "$QUIET" = 0 ] && [ -t 2 ]; then PROGRESS=1; fi

# curl reads its credentials from stdin (-K -): never argv, never a file.
cfg_quote() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
CURL_CFG=
if [ -n "$TOKEN" ] && [ -n "$USER_ID" ]; then
  CURL_CFG="user = $(cfg_quote "$USER_ID:$TOKEN")"
elif [ -n "$TOKEN" ]; then
  CURL_CFG="header = $(cfg_quote "Authorization: Bearer $TOKEN")"
elif [ -n "$USER_ID" ]; then
  die "GRAFANA_USER_ID is set but no token: set GRAFANA_READ_TOKEN (a token with metrics:read) or use --token-file"
fi
TOKEN=

server_message() { # FILE -> a short message from an error answer
  local msg
  msg=$(jq -r 'if type == "object" then (.error // .message // empty) | tostring else empty end' "$1" 2>/dev/null) || msg=
  if [ -z "$msg" ]; then msg=$(head -c 300 "$1" 2>/dev/null | tr '\r\n\t' '   ') || msg=; fi
  printf '%s' "${msg:-(empty answer)}"
}

# request OUTFILE PATH [curl args...]: GET with retries.
# Returns 0 on 2xx, 3 when the server refuses the query as too large; exits on other errors.
request() {
  local out=$1 path=$2
  shift 2
  local hdr="$TMPD/headers" errf="$TMPD/curl.err" attempt=0 code rc delay ra
  while :; do
    attempt=$((attempt + 1))
    rc=0
    code=$(printf '%s\n' "$CURL_CFG" | curl -q -sS -G -K - --connect-timeout 10 --max-time "$TIMEOUT" \
      -H 'Accept: application/json' -o "$out" -D "$hdr" -w '%{http_code}' "$URL$path" "$@" 2>"$errf") || rc=$?
    case $code in
    2??) [ "$rc" = 0 ] && return 0 ;;
    401 | 403)
      die "the server refused the credentials (HTTP $code): check GRAFANA_USER_ID and that the token is right and has the metrics:read scope (server said: $(server_message "$out"))"
      ;;
    422) return 3 ;;
    400 | 413)
      if server_message "$out" | grep -Eiq 'limit|exceed|too many|too large|maximum|max.?samples|max.?series'; then return 3; fi
      die "the server refused the query (HTTP $code): $(server_message "$out")"
      ;;
    429 | 5?? | 000 | '') ;;
    *) die "unexpected answer (HTTP $code) from $URL$path: $(server_message "$out")" ;;
    esac
    if [ "$attempt" -gt "$RETRIES" ]; then
      case $code in
      000 | '') die "cannot reach $URL after $attempt attempts: $(tr '\n' ' ' <"$errf")" ;;
      *) die "HTTP $code from $URL$path after $attempt attempts: $(server_message "$out")" ;;
      esac
    fi
    ra=
    if [ "$code" = 429 ] || [ "$code" = 503 ]; then
      ra=$(sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$hdr" 2>/dev/null | tail -n 1) || ra=
    fi
    delay=$(jq -n --arg base "$RETRY_DELAY" --arg ra "$ra" --argjson n "$attempt" \
      '[([($base|tonumber) * pow(2; $n - 1), 30] | min), (if $ra == "" then 0 else ([($ra|tonumber), 60] | min) end)] | max')
    [ "$PROGRESS" = 0 ] || note "HTTP ${code:-000}, retry $attempt/$RETRIES in ${delay}s"
    sleep "$delay"
  done
}

# ---------------------------------------------------------------- transformation of one answer
DATA="$TMPD/data.tsv"
KEYS="$TMPD/keys.tsv"
: >"$DATA"
: >"$KEYS"
# One line per (series, window): name TAB labels TAB window-start TAB samples TAB i TAB j TAB
# [[t,"value"],...], the series' samples in this answer, of which those at (1-based) positions
# i+1..j lie in the window (start, end]: Prometheus 2.x range selectors include both ends.
# Labels: sorted [name, value] pairs as JSON.
#
# jq 1.6 is slow at JSON (parsing, and writing it back out), and the samples are nearly all
# of it, so they do not go through jq: awk cuts each "values" array out of the answer's text
# as it is, checks that it is [[number,"value"],...] without spaces, finds the window's part
# (AWK_EXTRACT), and leaves the answer with these arrays emptied for jq, which reads the
# series' names and labels from it (JQ_META). AWK_JOIN puts the two together and checks that
# they agree. When an array is laid out in any other way (spaces, line breaks, other types),
# the batch goes through JQ_TRANSFORM instead: the same lines, everything read by jq and the
# arrays written by its tojson.
# shellcheck disable=SC2016
JQ_WINDOW='
def pad15: tostring | ("000000000000000"[0:(15 - length)]) + .;
def ms: . * 1000 | round;
if (type != "object") or .status != "success" or (.data.resultType // "") != "matrix" then
  error("unexpected answer: \(tostring | .[0:200])") else . end
| (input_filename | capture("/[0-9]+-(?<s>[0-9]+)-(?<e>[0-9]+)[.]json$")) as $w
| ($w.s | tonumber * 1000) as $s | ($w.e | tonumber * 1000) as $e
| .data.result[]
| select((.values | type) == "array")
| .values as $a
| ($a | length) as $n
| ({i: 0} | until(.i >= $n or ($a[.i][0] | ms) > $s; .i += 1) | .i) as $i
| ({j: $n} | until(.j <= $i or ($a[.j - 1][0] | ms) <= $e; .j -= 1) | .j) as $j
| "\(.metric.__name__ // "")\t\(.metric | del(.__name__) | to_entries | map([.key, .value]) | sort | tojson)\t\($s | pad15)\t\($j - $i)\t" as $line
| '
# shellcheck disable=SC2016
JQ_TRANSFORM="$JQ_WINDOW"'select($j > $i) | $line + "0\t\($j - $i)\t" + ($a[$i:$j] | tojson)'
# The answers with each "values" array cut out (by AWK_EXTRACT): per series, in order,
# name TAB labels TAB window-start.
# shellcheck disable=SC2016
JQ_META='
def pad15: tostring | ("000000000000000"[0:(15 - length)]) + .;
if (type != "object") or .status != "success" or (.data.resultType // "") != "matrix" then
  error("unexpected answer: \(tostring | .[0:200])") else . end
| (input_filename | capture("/[0-9]+-(?<s>[0-9]+)-(?<e>[0-9]+)[.]json$")) as $w
| ($w.s | tonumber * 1000) as $s
| .data.result[]
| select((.values | type) == "array")
| "\(.metric.__name__ // "")\t\(.metric | del(.__name__) | to_entries | map([.key, .value]) | sort | tojson)\t\($s | pad15)"'
# Per answer file, per "values":[...] in its text, in order: samples TAB i TAB j TAB the array,
# where positions i+1..j are in the window (start, end] (jq: round(t * 1000)); samples -1 when
# the array is not [[number,"value"],...] without spaces. A string in JSON cannot hold
# "values":[ unescaped, so each match is a key of a series. The answer with these arrays
# emptied goes to $EXPORT_SKEL/<same name>, for JQ_META.
# An answer is one line of megabytes, and mawk takes time quadratic in a record's length to
# read it (20 ms for 2.7 MB, 4.6 s for 38 MB): records end at "}" instead, a few kB each. A
# valid array holds no "}", so it lies within one record.
# shellcheck disable=SC2016
AWK_EXTRACT='
function ms(t,   x) { x = t * 1000; return (x < 0) ? -int(-x + 0.5) : int(x + 0.5) }
function tsat(k,   p) { p = a[2 * k - 1]; return (k == 1) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4) }
function cut(rec,   m, p, k, e, arr, rest, out, c, i, j) {
  m = split(rec, p, /"values":\[/)
  out = p[1]
  for (k = 2; k <= m; k++) {
    c = 0; i = 0; j = 0
    if (substr(p[k], 1, 1) == "]") { arr = "[]"; rest = substr(p[k], 2) }
    else {
      e = index(p[k], "]]")
      arr = "[" substr(p[k], 1, e + 1); rest = substr(p[k], e + 2)
      if (e == 0 || arr !~ /^\[(\[-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?,"[-+.0-9a-zA-Z]*"\],)*\[-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?,"[-+.0-9a-zA-Z]*"\]\]$/) c = -1
      else {
        c = (split(arr, a, "\"") - 1) / 2
        while (i < c && ms(tsat(i + 1)) <= s) i++
        j = c
        while (j > i && ms(tsat(j)) > en) j--
      }
    }
    out = out "\"values\":[]" rest
    print c "\t" i "\t" j "\t" arr
  }
  return out
}
# The text after the last "}" is whitespace (or nothing): without it, the last record ended at a "}".
function endfile() {
  if (last !~ /^[ \t\r\n]+$/) printf "}" > skel
  close(skel)
}
BEGIN { RS = "}" }
FNR == 1 {
  if (NR > 1) endfile()
  base = FILENAME; sub(/.*\//, "", base)
  split(base, w, "-"); s = w[2] * 1000; en = w[3]; sub(/[.]json$/, "", en); en *= 1000
  skel = ENVIRON["EXPORT_SKEL"] "/" base
}
{
  last = index($0, "\"values\":[") ? cut($0) : $0
  printf "%s%s", (FNR > 1 ? "}" : ""), last > skel
}
END { if (NR > 0) endfile() }'
# AWK_EXTRACT's lines (files); $EXPORT_META: JQ_META's lines. Exit 3 when they disagree.
# Each line's series (name TAB labels) also goes to $EXPORT_KEYS.
# shellcheck disable=SC2016
AWK_JOIN='
BEGIN { FS = "\t"; meta = ENVIRON["EXPORT_META"]; keys = ENVIRON["EXPORT_KEYS"] }
{
  if ((getline m < meta) <= 0 || split(m, f, "\t") != 3 || $1 < 0) exit 3
  if ($3 > $2) { print m FS ($3 - $2) FS $2 FS $3 FS $4; print f[1] FS f[2] > keys }
}
END { if ((getline m < meta) > 0) exit 3 }'

SAMPLES=0
add_answers() { # FILE... (named <job>-<start>-<end>.json, seconds, all in one folder)
  local meta="$TMPD/meta.tsv" vals="$TMPD/vals.tsv" batch="$TMPD/batch.data" skel="${1%/*}/skel" rc=0 f n=0 pid
  local -a skels
  mkdir -p "$skel"
  for f in "$@"; do
    skels[n]="$skel/${f##*/}"
    n=$((n + 1))
    : >"$skel/${f##*/}"
  done
  if [ "$#" -ge 2 ]; then # two processes, each half of the answers
    n=$((($# + 1) / 2))
    EXPORT_SKEL=$skel awk "$AWK_EXTRACT" "${@:1:n}" >"$vals.1" &
    pid=$!
    bg_started "$pid"
    EXPORT_SKEL=$skel awk "$AWK_EXTRACT" "${@:n+1}" >"$vals.2" || rc=$?
    bg_wait "$pid" || rc=$?
  else
    EXPORT_SKEL=$skel awk "$AWK_EXTRACT" "$@" >"$vals.1" || rc=$?
    : >"$vals.2"
  fi
  [ "$rc" = 0 ] && jq -r "$JQ_META" "${skels[@]}" >"$meta" 2>/dev/null || rc=$?
  [ "$rc" = 0 ] && EXPORT_META=$meta EXPORT_KEYS=$batch.keys awk "$AWK_JOIN" "$vals.1" "$vals.2" >"$batch" || rc=$?
  if [ "$rc" != 0 ]; then
    jq -r "$JQ_TRANSFORM" "$@" >"$batch" || die "could not read an answer (not a Prometheus matrix?)"
    cut -f1,2 "$batch" >"$batch.keys"
  fi
  rm -rf "$meta" "$vals.1" "$vals.2" "$skel"
  if [ "$PROGRESS" = 1 ]; then
    SAMPLES=$((SAMPLES + $(awk -F '\t' '{ n += $4 } END { print n + 0 }' "$batch")))
  fi
  : >>"$batch.keys"
  if [ -s "$DATA" ]; then
    cat "$batch" >>"$DATA"
    cat "$batch.keys" >>"$KEYS"
    rm -f "$batch" "$batch.keys"
  else
    mv -f "$batch" "$DATA"
    mv -f "$batch.keys" "$KEYS"
  fi
}

# Work queue, one job per line: attempts TAB start TAB end TAB kind TAB selector
# kind w: a window of a user selector (may be split); x: one series (may not).
QUEUE="$TMPD/queue.tsv"
NEXT="$TMPD/next.tsv"
: >"$QUEUE"
s=$FROM
while [ "$s" -lt "$TO" ]; do
  e=$((s + CHUNK))
  [ "$e" -le "$TO" ] || e=$TO
  while IFS= read -r sel; do
    [ -z "$sel" ] || printf '0\t%s\t%s\tw\t%s\n' "$s" "$e" "$sel" >>"$QUEUE"
  done <<EOF
$MATCHES
EOF
  s=$e
done

# One curl process per batch of requests (locally, process start-up costs more than the
# network): its config comes on stdin, with the credentials in it, never in argv.
# shellcheck disable=SC2016
JQ_CURL_CONFIG='
def q: tostring | gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") | "\"" + . + "\"";
[inputs] | to_entries[] | .key as $i | (.value | split("\t")) as $f
| (if $i > 0 then "next" else empty end),
  "@AUTH@",
  "url = " + ($url + "/api/v1/query?query=" + ($f[4] + "[" + (($f[2] | tonumber) - ($f[1] | tonumber) + 1 | tostring) + "s]" | @uri) + "&time=" + $f[2] | q),
  "output = " + ("\($dir)/\($i)-\($f[1])-\($f[2]).json" | q),
  "dump-header = " + ("\($dir)/\($i).h" | q),
  "write-out = \"%{http_code}\\n\"",
  "header = \"Accept: application/json\"",
  "silent", "show-error",
  "max-time = \($timeout)", "connect-timeout = 10"
'
BATCH=200
[ "$PROGRESS" = 0 ] || BATCH=4
MAX_BATCHES=100000
NJOBS=$(wc -l <"$QUEUE" | tr -d ' ')
DONE=0
batches=0
TAB=$(printf '\t')
while [ -s "$QUEUE" ]; do
  batches=$((batches + 1))
  [ "$batches" -le "$MAX_BATCHES" ] || die "too many requests: raise --chunk or narrow --match"
  head -n "$BATCH" "$QUEUE" >"$TMPD/batch.tsv"
  tail -n +"$((BATCH + 1))" "$QUEUE" >"$NEXT"
  rm -rf "$TMPD/ans"
  mkdir "$TMPD/ans"
  jq -nrR --arg url "$URL" --arg dir "$TMPD/ans" --arg timeout "$TIMEOUT" "$JQ_CURL_CONFIG" \
    <"$TMPD/batch.tsv" >"$TMPD/curl.tmpl" || die "could not prepare the requests"
  while IFS= read -r line; do
    if [ "$line" = @AUTH@ ]; then printf '%s\n' "$CURL_CFG"; else printf '%s\n' "$line"; fi
  done <"$TMPD/curl.tmpl" | curl -q -K - >"$TMPD/codes.txt" 2>"$TMPD/curl.err" || true

  set --
  i=0
  retry_attempt=0
  retry_after=0
  exec 3<"$TMPD/codes.txt"
  while IFS="$TAB" read -r att s e kind sel; do
    code=
    IFS= read -r code <&3 || code=000
    ans="$TMPD/ans/$i-$s-$e.json"
    hdr="$TMPD/ans/$i.h"
    i=$((i + 1))
    case $code in
    2??)
      set -- "$@" "$ans"
      DONE=$((DONE + 1))
      continue
      ;;
    401 | 403)
      die "the server refused the credentials (HTTP $code): check GRAFANA_USER_ID and that the token is right and has the metrics:read scope (server said: $(server_message "$ans"))"
      ;;
    422 | 400 | 413)
      if [ "$code" != 422 ] && ! server_message "$ans" | grep -Eiq 'limit|exceed|too many|too large|maximum|max.?samples|max.?series'; then
        die "the server refused the query (HTTP $code): $(server_message "$ans")"
      fi
      # Too large for one answer: halve the window, then go series by series.
      [ "$kind" = w ] || die "one series has more samples in ${MIN_CHUNK}s than the server allows per query: lower --min-chunk (series $sel)"
      if [ $((e - s)) -gt "$MIN_CHUNK" ]; then
        mid=$((s + (e - s) / 2))
        printf '0\t%s\t%s\tw\t%s\n0\t%s\t%s\tw\t%s\n' "$s" "$mid" "$sel" "$mid" "$e" "$sel" >>"$NEXT"
        NJOBS=$((NJOBS + 1))
      else
        rc=0
        request "$TMPD/series.json" /api/v1/series --data-urlencode "match[]=$sel" --data-urlencode "start=$s" --data-urlencode "end=$e" || rc=$?
        [ "$rc" = 0 ] || die "the server refuses even a ${MIN_CHUNK}s window and the list of its series: lower --min-chunk"
        n=$(jq -r --arg s "$s" --arg e "$e" '.data[] | "0\t\($s)\t\($e)\tx\t{" + (to_entries | sort_by(.key) | map("\(.key)=\(.value | tojson)") | join(",")) + "}"' \
          "$TMPD/series.json" | tee -a "$NEXT" | wc -l | tr -d ' ') || die "could not read the series list"
        NJOBS=$((NJOBS - 1 + n))
      fi
      continue
      ;;
    429 | 5?? | 000 | '') ;;
    *) die "unexpected answer (HTTP $code) from $URL/api/v1/query: $(server_message "$ans")" ;;
    esac
    att=$((att + 1))
    if [ "$att" -gt "$RETRIES" ]; then
      case $code in
      000 | '') die "cannot reach $URL after $att attempts: $(tr '\n' ' ' <"$TMPD/curl.err")" ;;
      *) die "HTTP $code from $URL/api/v1/query after $att attempts: $(server_message "$ans")" ;;
      esac
    fi
    [ "$att" -le "$retry_attempt" ] || retry_attempt=$att
    if [ "$code" = 429 ] || [ "$code" = 503 ]; then
      ra=$(sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$hdr" 2>/dev/null | tail -n 1) || ra=
      if [ -n "$ra" ] && [ "$ra" -gt "$retry_after" ]; then retry_after=$ra; fi
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$att" "$s" "$e" "$kind" "$sel" >>"$NEXT"
  done <"$TMPD/batch.tsv"
  exec 3<&-
  [ "$#" = 0 ] || add_answers "$@"
  mv -f "$NEXT" "$QUEUE"
  [ "$PROGRESS" = 0 ] || printf '\r%s: requests %s/%s, samples so far: %s   ' "$PROG" "$DONE" "$NJOBS" "$SAMPLES" >&2
  if [ "$retry_attempt" -gt 0 ]; then
    delay=$(jq -n --arg base "$RETRY_DELAY" --argjson ra "$retry_after" --argjson n "$retry_attempt" \
      '[([($base | tonumber) * pow(2; $n - 1), 30] | min), ([$ra, 60] | min)] | max')
    [ "$PROGRESS" = 0 ] || printf '\n%s: retry %s/%s in %ss\n' "$PROG" "$retry_attempt" "$RETRIES" "$delay" >&2
    sleep "$delay"
  fi
done
[ "$PROGRESS" = 0 ] || printf '\n' >&2

# ---------------------------------------------------------------- assemble
# The distinct series, in the order of the sorted samples (a JSON array of labels is never
# the beginning of another one), each with its number of lines: count TAB name TAB labels.
SERIES="$TMPD/series.tsv"
# shellcheck disable=SC2016
LC_ALL=C sort -T "$TMPD" "$KEYS" | awk '$0 != k { if (NR > 1) print n "\t" k; k = $0; n = 0 } { n++ } END { if (NR > 0) print n "\t" k }' >"$SERIES" ||
  die "could not list the series"

# stdout, a device or a FIFO (/dev/null, a named pipe) is written to at the end, never
# replaced by a rename; a regular file is renamed into place only when complete.
[ -d "$OUT" ] && die "--out is a folder: $OUT"
if [ "$OUT" = - ] || { [ -e "$OUT" ] && [ ! -f "$OUT" ]; }; then
  STREAM_OUT=1
  PARTIAL="$TMPD/out.partial"
else
  STREAM_OUT=0
  out_dir=$(dirname -- "$OUT")
  [ -d "$out_dir" ] || die "no such folder: $out_dir"
  PARTIAL=$(mktemp "$out_dir/.${OUT##*/}.partial.XXXXXX") || die "cannot write in $out_dir"
fi

# The text that each series' samples share, one line per series in the sorted order, from
# a small jq pass over the distinct series (not the samples); backslashes and newlines escaped
# as \\ and \n so that a csv label holding a newline stays on one line. csv: a header first.
HEADS="$TMPD/heads.txt"
# shellcheck disable=SC2016
case $FORMAT in
csv)
  JQ_HEADS='[inputs | split("\t")] as $k
    | ([$k[] | .[1] | fromjson | .[][0]] | unique) as $cols
    | (["timestamp", "metric"] + $cols + ["value"] | join(",")),
      ($k[] | (.[1] | fromjson | map({(.[0]): .[1]}) | add // {}) as $l
        | "," + ([.[0]] + [$cols[] | $l[.] // ""] | @csv) + ",")'
  ;;
jsonl)
  JQ_HEADS='inputs | split("\t") | {__name__: .[0]} + (.[1] | fromjson | map({(.[0]): .[1]}) | add // {}) | tojson'
  ;;
openmetrics)
  JQ_HEADS='def esc: gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") | gsub("\n"; "\\n");
    inputs | split("\t")
    | .[0] + (.[1] | fromjson | if length == 0 then "" else "{" + (map("\(.[0])=\"\(.[1] | esc)\"") | join(",")) + "}" end) + " "'
  ;;
esac
# jq works on the list of series while sort works on the samples.
cut -f2,3 "$SERIES" | jq -nrR "$JQ_HEADS"' | if test("[\\\\\n]") then gsub("\\\\"; "\\\\") | gsub("\n"; "\\n") else . end' \
  >"$HEADS" &
heads_pid=$!
bg_started "$heads_pid"
SORTED="$TMPD/sorted.tsv"
LC_ALL=C sort -T "$TMPD" "$DATA" >"$SORTED"
rm -f "$DATA"
bg_wait "$heads_pid" || die "could not list the series"

# One pass over the samples, in awk (POSIX: mawk, BWK/macOS awk, gawk, busybox). Per series,
# samples come in window order; keeping only those after the last one written gives each
# (series, timestamp) once, sorted, even where windows or selectors overlap.
# shellcheck disable=SC2016
AWK_FORMAT='
function unesc(s,   out, i, c) {
  if (index(s, "\\") == 0) return s
  out = ""
  while ((i = index(s, "\\")) > 0) {
    c = substr(s, i + 1, 1)
    out = out substr(s, 1, i - 1) (c == "n" ? "\n" : c)
    s = substr(s, i + 2)
  }
  return out s
}
function nexthead(   h) {
  if ((getline h < heads) <= 0) {
    print "export-metrics.sh: error: the list of series is out of step with the data" > "/dev/stderr"
    failed = 1
    exit 2
  }
  return unesc(h)
}
function floor_(x,   i) { i = int(x); return (i > x) ? i - 1 : i }
function civil(z,   era, doe, yoe, y, doy, mp, d, m) { # days since 1970-01-01 -> "YYYY-MM-DDT"
  z += 719468
  era = floor_(z / 146097)
  doe = z - era * 146097
  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
  y = yoe + era * 400
  doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
  mp = int((5 * doy + 2) / 153)
  d = doy - int((153 * mp + 2) / 5) + 1
  m = mp < 10 ? mp + 3 : mp - 9
  if (m <= 2) y++
  return sprintf("%04d-%02d-%02dT", y, m, d)
}
function ms_of(ts, t,   p, l) { # seconds as written -> integer milliseconds, as text
  if (t >= 1 && index(ts, "e") == 0 && index(ts, "E") == 0) {
    p = index(ts, ".")
    if (p == 0) return ts "000"
    l = length(ts) - p
    if (l <= 3) return substr(ts, 1, p - 1) substr(ts, p + 1) substr("000", l + 1)
  }
  return sprintf("%.0f", t * 1000)
}
function iso(ts, t,   p, l, sec, fr, ms, sod, h, r, mi) { # -> 2026-11-25T13:05:00.000Z
  p = (t >= 0 && index(ts, "e") == 0 && index(ts, "E") == 0) ? index(ts, ".") : -1
  if (p == 0) { sec = t; fr = ".000Z" }
  else if (p > 0 && (l = length(ts) - p) <= 3) { sec = substr(ts, 1, p - 1) + 0; fr = "." substr(ts, p + 1) substr("000", l + 1) "Z" }
  else { ms = sprintf("%.0f", t * 1000) + 0; sec = floor_(t); r = ms - sec * 1000; fr = sprintf(".%03dZ", (r < 0 ? 0 : r > 999 ? 999 : r)) }
  if (sec < daystart || sec >= daystart + 86400) { daystart = floor_(sec / 86400); ds = civil(daystart); daystart *= 86400 }
  sod = sec - daystart
  h = int(sod / 3600); r = sod - h * 3600; mi = int(r / 60)
  return ds D2[h] ":" D2[mi] ":" D2[r - mi * 60] fr
}
function csv_time(ts,   t, p, r) { # iso(), and the hour kept for the next samples
  p = index(ts, ".")
  if (p > 0 && length(ts) - p == 3 && index(ts, "e") == 0 && index(ts, "E") == 0 && substr(ts, 1, 1) != "-") {
    r = substr(ts, 1, p - 1) - hs
    if (r >= 0 && r < 3600) return hp MS[r] "." substr(ts, p + 1) "Z"
  }
  t = ts + 0
  if (t >= 0) { hs = int(t); hs -= hs % 3600; hp = substr(iso(hs, hs), 1, 14) }
  return iso(ts, t)
}
function jnum(v) { # a sample value (text) -> a JSON number, as jq tonumber does
  if (v ~ /^-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?$/) return v
  if (v == "+Inf" || v == "Inf") return "1.7976931348623157e+308"
  if (v == "-Inf") return "-1.7976931348623157e+308"
  return "null"
}
function flush_series() {
  if (key != "" && fmt == "jsonl") print "{\"metric\":" head ",\"values\":[" sv "],\"timestamps\":[" st "]}"
  sv = ""; st = ""
}
BEGIN {
  FS = "\t"; hs = -1e300; key = ""; name = ""; daystart = 0; ds = civil(0); failed = 0
  heads = ENVIRON["EXPORT_HEADS"]
  for (i = 0; i < 60; i++) D2[i] = (i < 10 ? "0" : "") i
  for (i = 0; i < 3600; i++) MS[i] = D2[int(i / 60)] ":" D2[i % 60]
  # The second of two parts (see below): skip the heads of the first, and no new family
  # header when its first series belongs to the last family of the first part.
  named = (ENVIRON["EXPORT_SKIP"] != ""); name = ENVIRON["EXPORT_PREV"]
  for (i = ENVIRON["EXPORT_SKIP"] + 0; i > 0; i--) nexthead()
  if (fmt == "csv" && !named) print nexthead()
  from = ENVIRON["EXPORT_FROM"] + 0; before = ENVIRON["EXPORT_BEFORE"] + 0
}
NR < from { next }
before && NR >= before { exit }
{
  k = $1 FS $2
  if (k != key) {
    flush_series()
    if (fmt == "openmetrics" && (!named || $1 != name)) print "# TYPE " $1 " unknown"
    named = 1; name = $1; key = k; head = nexthead(); last = -1e300
  }
  # $7 is [[t,"v"],...] without spaces; split at the quotes: a[1] = "[[t,", a[2k] = the k-th
  # value, a[2k+1] = "],[t,", a[n] = "]]". Positions $5+1..$6 are in the window.
  n = split($7, a, "\"")
  lo = 2 * $5 + 2; hi = 2 * $6
  # Samples come in time order: when the first one is after the last written (always, unless
  # windows or selectors overlap), so are the others.
  p = a[lo - 1]; ts = (lo == 2) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4)
  fresh = (ts + 0 > last)
  p = a[hi - 1]; ts = (hi == 2) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4)
  if (fresh) last = ts + 0
  if (fmt == "openmetrics") {
    for (i = lo; i <= hi; i += 2) {
      p = a[i - 1]; ts = (i == 2) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4)
      if (!fresh) { t = ts + 0; if (t <= last) continue; last = t }
      print head a[i] " " ts
    }
  } else if (fmt == "csv") {
    for (i = lo; i <= hi; i += 2) {
      p = a[i - 1]; ts = (i == 2) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4)
      if (!fresh) { t = ts + 0; if (t <= last) continue; last = t }
      # the common case inline: a whole second within the hour of the previous sample
      r = ts - hs
      if (r >= 0 && r < 3600 && r == int(r)) print hp MS[r] ".000Z" head a[i]
      else print csv_time(ts) head a[i]
    }
  } else {
    # built in blocks of 64 samples: appending one by one to a long string is quadratic
    # values as Prometheus-compatible servers write them (Go strconv) are JSON numbers, except
    # NaN, +Inf and -Inf: only a window holding one of those goes through jnum sample by sample
    odd = index($7, "N") || index($7, "I")
    if (fresh && !odd && lo == 2 && hi == n - 1) {
      # The whole array, all new: both lists by substitutions on the text, when every
      # timestamp is whole seconds (then milliseconds are the same digits and "000").
      lt = $7; gsub(/,"[^"]*"\]/, "", lt); gsub(/\[/, "", lt); lt = substr(lt, 1, length(lt) - 1)
      if (substr(lt, 1, 1) != "0" && index(lt, ".") == 0 && index(lt, "e") == 0 && index(lt, "E") == 0 && index(lt, "-") == 0) {
        gsub(/,/, "000,", lt); lt = lt "000"
        lv = $7; gsub(/\[[^,]*,"/, "", lv); gsub(/"\]/, "", lv); lv = substr(lv, 1, length(lv) - 1)
        sv = sv (sv == "" ? "" : ",") lv; st = st (st == "" ? "" : ",") lt
        next
      }
    }
    bv = ""; bt = ""; lv = ""; lt = ""; c = 0
    for (i = lo; i <= hi; i += 2) {
      p = a[i - 1]; ts = (i == 2) ? substr(p, 3, length(p) - 3) : substr(p, 4, length(p) - 4)
      t = ts + 0
      if (!fresh) { if (t <= last) continue; last = t }
      v = odd ? jnum(a[i]) : a[i]
      if (c++ > 0) { bv = bv "," v; bt = bt "," ms_of(ts, t) } else { bv = v; bt = ms_of(ts, t) }
      if (c == 64) { lv = lv (lv == "" ? "" : ",") bv; lt = lt (lt == "" ? "" : ",") bt; c = 0 }
    }
    if (c > 0) { lv = lv (lv == "" ? "" : ",") bv; lt = lt (lt == "" ? "" : ",") bt }
    if (lv != "") { sv = sv (sv == "" ? "" : ",") lv; st = st (st == "" ? "" : ",") lt }
  }
}
END {
  if (failed) exit 2
  flush_series()
  if (fmt == "openmetrics" && ENVIRON["EXPORT_PART"] != "first") print "# EOF"
}'
# A large export is written in two parts at the same time (two processes: a second CPU, if
# any, halves this step), split at the first change of series after the middle line.
split_at=
if [ "$(wc -c <"$SORTED")" -gt 4000000 ]; then
  # shellcheck disable=SC2016
  split_at=$(awk -F '\t' -v half="$(($(wc -l <"$KEYS") / 2 + 1))" '
    { if (lines + 1 >= half) { print lines + 1 FS NR - 1 FS name; exit } lines += $1; name = $2 }' "$SERIES") || split_at=
fi
if [ -n "$split_at" ]; then
  IFS="$TAB" read -r line1 nseries prev_name <<EOF
$split_at
EOF
  [ "$FORMAT" != csv ] || nseries=$((nseries + 1))
  EXPORT_HEADS=$HEADS EXPORT_FROM=$line1 EXPORT_SKIP=$nseries EXPORT_PREV=$prev_name awk -v fmt="$FORMAT" "$AWK_FORMAT" "$SORTED" >"$TMPD/part2" &
  pid=$!
  bg_started "$pid"
  rc=0
  EXPORT_HEADS=$HEADS EXPORT_BEFORE=$line1 EXPORT_PART=first awk -v fmt="$FORMAT" "$AWK_FORMAT" "$SORTED" >"$PARTIAL" || rc=$?
  bg_wait "$pid" || rc=$?
  [ "$rc" = 0 ] || die "could not write the $FORMAT file"
  cat "$TMPD/part2" >>"$PARTIAL" || die "could not write the $FORMAT file"
  rm -f "$TMPD/part2"
else
  EXPORT_HEADS=$HEADS awk -v fmt="$FORMAT" "$AWK_FORMAT" "$SORTED" >"$PARTIAL" || die "could not write the $FORMAT file"
fi

if [ "$OUT" = - ]; then
  cat "$PARTIAL"
elif [ "$STREAM_OUT" = 1 ]; then
  cat "$PARTIAL" >"$OUT" || die "could not write to $OUT"
else
  mv -f "$PARTIAL" "$OUT" || die "could not move the result to $OUT"
fi
PARTIAL=
[ "$PROGRESS" = 0 ] || note "done: $OUT"
