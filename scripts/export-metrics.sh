#!/usr/bin/env bash
# export-metrics.sh - copy every raw sample of the bot's metrics out of Grafana Cloud
# (or any Prometheus-compatible API) before the 14-day retention drops it.
# Needs: bash >= 3.2, curl, jq (1.6+), and POSIX awk, sort (plus -S, as in GNU, BSD and macOS sort), grep, sed.
# No GNU-only tools, no `date`.
#
# How: the time range is cut into windows; each window of each selector is one instant query
# of a range selector (raw samples, not resampled), all requests of a batch made by one curl.
# awk cuts the sample arrays out of each answer and jq reads the rest (names, labels); the
# lines of all windows are sorted by series, and one awk pass writes the chosen format.
set -euo pipefail

PROG=${0##*/}
# The union of {__name__=~".+_metric"} and {__mimir_source__="influx"}, written so that no
# series is fetched twice (on Grafana Cloud every _metric series also has __mimir_source__).
DEFAULT_MATCHES='{__name__=~".+_metric"}
{__mimir_source__="influx",__name__!~".+_metric"}'
TAB=$(printf '\t')

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
                       {__name__=~".+_metric"}      (Send Metric: <name>_metric, the event
                                                     name with [^A-Za-z0-9_] turned into _)
                       {__mimir_source__="influx"}  (everything written via the influx
                                                     endpoint: Send Raw Data's series and
                                                     Send LLM Usage: gen_ai_client_*)
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

parse_args() {
  URL=${GRAFANA_PROM_URL:-}
  USER_ID=${GRAFANA_USER_ID:-}
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
  local opt val
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
}

check_args() {
  command -v curl >/dev/null 2>&1 || die "curl is required"
  command -v jq >/dev/null 2>&1 || die "jq is required"
  local ext
  case $FORMAT in
  csv) ext=csv ;;
  jsonl) ext=jsonl ;;
  openmetrics) ext=om ;;
  *) die "--format must be csv, jsonl or openmetrics (got: $FORMAT)" ;;
  esac
  [ -n "$OUT" ] || OUT=metrics-export.$ext
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
}

cfg_quote() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# TOKEN -> CURL_AUTH, the credentials as curl config lines. curl reads them on stdin (-K -):
# never in argv, never in a file.
set_auth() {
  local token=$1
  if [ -n "$TOKEN_FILE" ]; then
    [ -r "$TOKEN_FILE" ] || die "cannot read --token-file $TOKEN_FILE"
    token=
    IFS= read -r token <"$TOKEN_FILE" || [ -n "$token" ] || die "--token-file $TOKEN_FILE is empty"
  fi
  token=${token%$'\r'}
  CURL_AUTH=
  if [ -n "$token" ] && [ -n "$USER_ID" ]; then
    CURL_AUTH="user = $(cfg_quote "$USER_ID:$token")"
  elif [ -n "$token" ]; then
    CURL_AUTH="header = $(cfg_quote "Authorization: Bearer $token")"
  elif [ -n "$USER_ID" ]; then
    die "GRAFANA_USER_ID is set but no token: set GRAFANA_READ_TOKEN (a token with metrics:read) or use --token-file"
  fi
}

# Times: jq does the arithmetic (no `date`, whose flags differ between GNU and BSD).
# shellcheck disable=SC2016 # jq and awk programs are single-quoted on purpose
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

# -> FROM TO CHUNK MIN_CHUNK, in seconds
resolve_times() {
  local times
  # shellcheck disable=SC2016
  if ! times=$(jq -nr --arg from "$FROM_ARG" --arg to "$TO_ARG" --arg chunk "$CHUNK_ARG" --arg min "$MIN_CHUNK_ARG" \
    "$JQ_TIME_DEFS"'
    (now | floor) as $now
    | def dur($name): . as $v | try dur_seconds catch error("\($name) must look like 30m, 6h or 1d (got \($v))");
    [($from | parse_time($now)), ($to | parse_time($now)), ($chunk | dur("--chunk")), ($min | dur("--min-chunk"))]
    | map(floor | tostring) | join(" ")' 2>&1); then
    die "${times#jq: error (at <unknown>): }"
  fi
  read -r FROM TO CHUNK MIN_CHUNK <<EOT
$times
EOT
  [ "$FROM" -lt "$TO" ] || die "--from must be before --to"
  [ "$CHUNK" -ge 1 ] || die "--chunk must be at least 1s"
  [ "$MIN_CHUNK" -ge 1 ] || die "--min-chunk must be at least 1s"
  local nchunks=$(((TO - FROM + CHUNK - 1) / CHUNK))
  [ "$nchunks" -le 100000 ] || die "$nchunks windows: raise --chunk"
}

# ---------------------------------------------------------------- requests
# Every request goes through request_batch and answer_status. A job is one line:
# attempts TAB start TAB end TAB kind TAB selector, where kind is
#   w: the samples of a selector in the window (start, end]; split when refused as too large
#   x: the same for one series (a selector naming all its labels); never split
#   s: the list of a selector's series in the window, to query them one by one
# shellcheck disable=SC2016
JQ_CURL_CONFIG='
def q: tostring | gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") | "\"" + . + "\"";
[inputs] | to_entries[] | .key as $i | (.value | split("\t")) as $f
| (if $i > 0 then "next" else empty end),
  "@AUTH@",
  "url = " + ($url + if $f[3] == "s"
    then "/api/v1/series?match%5B%5D=" + ($f[4] | @uri) + "&start=" + $f[1] + "&end=" + $f[2]
    else "/api/v1/query?query=" + ($f[4] + "[" + (($f[2] | tonumber) - ($f[1] | tonumber) + 1 | tostring) + "s]" | @uri) + "&time=" + $f[2]
    end | q),
  "output = " + ("\($dir)/\($i)-\($f[1])-\($f[2]).json" | q),
  "dump-header = " + ("\($dir)/\($i).h" | q),
  "write-out = \"%{http_code} %{exitcode}\\n\"",
  "header = \"Accept: application/json\"",
  "silent", "show-error",
  "max-time = \($timeout)", "connect-timeout = 10"
'

# JOBS_FILE -> $TMPD/ans/<n>-<start>-<end>.json and <n>.h per job (n from 0), and per job a
# line "HTTP-status curl-exit-status" in $TMPD/codes.txt.
request_batch() {
  local line
  rm -rf "$TMPD/ans"
  mkdir "$TMPD/ans"
  jq -nrR --arg url "$URL" --arg dir "$TMPD/ans" --arg timeout "$TIMEOUT" "$JQ_CURL_CONFIG" \
    <"$1" >"$TMPD/curl.tmpl" || die "could not prepare the requests"
  while IFS= read -r line; do
    if [ "$line" = @AUTH@ ]; then printf '%s\n' "$CURL_AUTH"; else printf '%s\n' "$line"; fi
  done <"$TMPD/curl.tmpl" | curl -q -K - >"$TMPD/codes.txt" 2>"$TMPD/curl.err" || true
}

server_message() { # FILE -> a short message from an error answer
  local msg
  msg=$(jq -r 'if type == "object" then (.error // .message // empty) | tostring else empty end' "$1" 2>/dev/null) || msg=
  if [ -z "$msg" ]; then msg=$(head -c 300 "$1" 2>/dev/null | tr '\r\n\t' '   ') || msg=; fi
  printf '%s' "${msg:-(empty answer)}"
}

# answer_status CODE ANSWER HEADERS PATH ATTEMPT: 0 when the answer is good, 3 when the server
# refuses the request as too large, 4 when it is worth retrying (RETRY_AFTER raised to the
# server's Retry-After); exits on any other answer, and when ATTEMPT was the last one.
answer_status() {
  local code=$1 ans=$2 hdr=$3 path=$4 attempt=$5 ra
  case $code in
  2??) return 0 ;;
  401 | 403)
    die "the server refused the credentials (HTTP $code): check GRAFANA_USER_ID and that the token is right and has the metrics:read scope (server said: $(server_message "$ans"))"
    ;;
  422) return 3 ;;
  400 | 413)
    if server_message "$ans" | grep -Eiq 'limit|exceed|too many|too large|maximum|max.?samples|max.?series'; then return 3; fi
    die "the server refused the query (HTTP $code): $(server_message "$ans")"
    ;;
  429 | 5?? | 000) ;;
  *) die "unexpected answer (HTTP $code) from $URL$path: $(server_message "$ans")" ;;
  esac
  if [ "$attempt" -gt "$RETRIES" ]; then
    case $code in
    000) die "cannot reach $URL after $attempt attempts: $(tr '\n' ' ' <"$TMPD/curl.err")" ;;
    *) die "HTTP $code from $URL$path after $attempt attempts: $(server_message "$ans")" ;;
    esac
  fi
  if [ "$code" = 429 ] || [ "$code" = 503 ]; then
    ra=$(sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$hdr" 2>/dev/null | tail -n 1) || ra=
    if [ -n "$ra" ] && [ "$ra" -gt "$RETRY_AFTER" ]; then RETRY_AFTER=$ra; fi
  fi
  return 4
}

# ---------------------------------------------------------------- reading the answers
# An answer is {"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},
# "values":[[t,"value"],...]},...]}}: the samples are nearly all of it, and jq 1.6 takes
# microseconds per sample to parse them. So awk cuts each "values" array out of the text
# (AWK_CUT) and jq reads what is left, the names and labels (JQ_SERIES); AWK_JOIN pairs the
# two up, one line per series and window: name TAB labels TAB window start TAB i TAB j TAB
# samples, where the samples at (1-based) positions i+1..j lie in the window (start, end]
# (Prometheus 2.x range selectors include both ends). Labels: sorted [name, value] pairs as JSON.

# Per answer, per "values" array in its text, in order: samples TAB i TAB j TAB its samples as
# time,value,time,value,...; samples is -1 when the array is not [[time,"value"],...] with times
# in seconds (after 1970, milliseconds at most) and values as Prometheus writes them (Go
# floats, NaN, +Inf, -Inf). The answer,
# its arrays emptied, goes to $EXPORT_SKEL/<same name> for jq. Records end at "}": mawk reads
# a record in time quadratic in its length (an answer is one line of megabytes), and a valid
# array holds no "}", so it lies within one record.
# shellcheck disable=SC2016
AWK_CUT='
function ms(t) { return int(t * 1000 + 0.5) }
function cut(rec,   out, k, arr, c, i, j) {
  out = ""
  while ((k = index(rec, "\"values\"")) > 0) {
    out = out substr(rec, 1, k + 7)
    rec = substr(rec, k + 8)
    if (!match(rec, /^[ \t\r\n]*:[ \t\r\n]*\[/)) continue # the string "values", not a key of an array
    out = out substr(rec, 1, RLENGTH - 1) "[]"
    rec = substr(rec, RLENGTH)
    if (match(rec, /^\[[ \t\r\n]*\]|\][ \t\r\n]*\]/)) {
      arr = substr(rec, 1, RSTART + RLENGTH - 1)
      rec = substr(rec, RSTART + RLENGTH)
    } else { arr = rec; rec = "" }
    gsub(/[ \t\r\n]+/, "", arr)
    c = 0; i = 0; j = 0
    if (arr != "[]") {
      if (arr !~ SAMPLES) c = -1
      else {
        gsub(/[]["]/, "", arr)
        c = split(arr, a, ",") / 2
        while (i < c && ms(a[2 * i + 1]) <= s) i++
        j = c
        while (j > i && ms(a[2 * j - 1]) > e) j--
      }
    }
    print c "\t" i "\t" j "\t" arr
  }
  return out rec
}
# The text after the last "}" is white space (or nothing): without it, the last record ended at a "}".
function endfile() {
  if (last !~ /^[ \t\r\n]+$/) printf "}" > skel
  close(skel)
}
BEGIN {
  RS = "}"
  time = "[1-9][0-9]*([.][0-9][0-9]?[0-9]?)?"
  value = "(-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]?Inf)"
  sample = "\\[" time ",\"" value "\"\\]"
  SAMPLES = "^\\[(" sample ",)*" sample "\\]$"
}
FNR == 1 {
  if (NR > 1) endfile()
  base = FILENAME; sub(/.*\//, "", base)
  split(base, w, "-"); s = w[2] * 1000; e = w[3]; sub(/[.]json$/, "", e); e *= 1000
  skel = ENVIRON["EXPORT_SKEL"] "/" base
}
{
  last = cut($0)
  printf "%s%s", (FNR > 1 ? "}" : ""), last > skel
}
END { if (NR > 0) endfile() }'

# The answers with their arrays emptied: per series with a "values" array, in order,
# name TAB labels TAB window start (ms, 15 digits: sorted as text, in time order).
# shellcheck disable=SC2016
JQ_SERIES='
def pad15: tostring | ("000000000000000"[0:(15 - length)]) + .;
if (type != "object") or .status != "success" or (.data.resultType // "") != "matrix" then
  error("unexpected answer: \(tostring | .[0:200])") else . end
| (input_filename | capture("/[0-9]+-(?<s>[0-9]+)-[0-9]+[.]json$")) as $w
| ($w.s | tonumber * 1000) as $s
| .data.result[]
| select((.values | type) == "array")
| "\(.metric.__name__ // "")\t\(.metric | del(.__name__) | to_entries | map([.key, .value]) | sort | tojson)\t\($s | pad15)"'

# AWK_CUT lines (files) and JQ_SERIES lines ($EXPORT_SERIES) -> the lines of the series with
# samples in their window; each one's series (name TAB labels) also to $EXPORT_KEYS.
# Exit 3 when the two disagree (a "values" that is not what it seems, or a bad array).
# shellcheck disable=SC2016
AWK_JOIN='
BEGIN { FS = "\t"; series = ENVIRON["EXPORT_SERIES"]; keys = ENVIRON["EXPORT_KEYS"] }
{
  if ((getline m < series) <= 0 || split(m, f, "\t") != 3 || $1 < 0) exit 3
  if ($3 > $2) { print m FS $2 FS $3 FS $4; print f[1] FS f[2] >> keys }
}
END { if ((getline m < series) > 0) exit 3 }'

# ANSWER... (named <n>-<start>-<end>.json, seconds, all in one folder) -> appended to DATA and KEYS
add_answers() {
  local skel="${1%/*}/skel" f n=0
  local -a skels
  mkdir -p "$skel"
  for f in "$@"; do
    skels[n]="$skel/${f##*/}"
    n=$((n + 1))
    : >"$skel/${f##*/}"
  done
  EXPORT_SKEL=$skel awk "$AWK_CUT" "$@" >"$TMPD/arrays.tsv" || die "could not read the answers"
  jq -r "$JQ_SERIES" "${skels[@]}" >"$TMPD/series.tsv" || die "could not read an answer (not a Prometheus matrix?)"
  EXPORT_SERIES=$TMPD/series.tsv EXPORT_KEYS=$KEYS awk "$AWK_JOIN" "$TMPD/arrays.tsv" >>"$DATA" ||
    die "could not read an answer: its samples are not [[time, \"value\"], ...] (not a Prometheus matrix?)"
  rm -rf "$skel" "$TMPD/arrays.tsv" "$TMPD/series.tsv"
}

# ---------------------------------------------------------------- fetching
# The series of a list of series (an /api/v1/series answer), as x jobs for the window START END
# shellcheck disable=SC2016
JQ_SERIES_JOBS='.data[] | "0\t\($s)\t\($e)\tx\t{" + (to_entries | sort_by(.key) | map("\(.key)=\(.value | tojson)") | join(",")) + "}"'

# backoff ATTEMPT RETRY_AFTER -> seconds to wait: --retry-delay doubled per attempt, at most 30,
# or the server's Retry-After when longer (at most 60)
backoff() {
  awk -v base="$RETRY_DELAY" -v n="$1" -v ra="$2" \
    'BEGIN { d = base * 2 ^ (n - 1); if (d > 30) d = 30; if (ra > 60) ra = 60; if (ra > d) d = ra; print d }'
}

# Every job until none is left -> DATA and KEYS
fetch_all() {
  local queue="$TMPD/queue.tsv" next="$TMPD/next.tsv" batch=200 max_batches=100000 batches=0
  local njobs done=0 s e sel i att kind code cerr ans path rc mid n retry_attempt delay
  : >"$queue"
  s=$FROM
  while [ "$s" -lt "$TO" ]; do
    e=$((s + CHUNK))
    [ "$e" -le "$TO" ] || e=$TO
    while IFS= read -r sel; do
      [ -z "$sel" ] || printf '0\t%s\t%s\tw\t%s\n' "$s" "$e" "$sel" >>"$queue"
    done <<EOT
$MATCHES
EOT
    s=$e
  done
  [ "$PROGRESS" = 0 ] || batch=4
  njobs=$(wc -l <"$queue" | tr -d ' ')
  while [ -s "$queue" ]; do
    batches=$((batches + 1))
    [ "$batches" -le "$max_batches" ] || die "too many requests: raise --chunk or narrow --match"
    head -n "$batch" "$queue" >"$TMPD/batch.tsv"
    tail -n +"$((batch + 1))" "$queue" >"$next"
    request_batch "$TMPD/batch.tsv"
    set --
    i=0
    retry_attempt=0
    RETRY_AFTER=0
    exec 3<"$TMPD/codes.txt"
    while IFS="$TAB" read -r att s e kind sel; do
      code=000 cerr=
      read -r code cerr <&3 || code=000
      case $cerr in '' | 0) ;; *) code=000 ;; esac # e.g. a transfer cut short after the headers
      ans="$TMPD/ans/$i-$s-$e.json"
      att=$((att + 1))
      if [ "$kind" = s ]; then path=/api/v1/series; else path=/api/v1/query; fi
      rc=0
      answer_status "$code" "$ans" "$TMPD/ans/$i.h" "$path" "$att" || rc=$?
      i=$((i + 1))
      case $rc:$kind in
      0:s)
        n=$(jq -r --arg s "$s" --arg e "$e" "$JQ_SERIES_JOBS" "$ans" | tee -a "$next" | wc -l | tr -d ' ') ||
          die "could not read the list of series"
        njobs=$((njobs + n))
        done=$((done + 1))
        ;;
      0:*)
        set -- "$@" "$ans"
        done=$((done + 1))
        ;;
      3:w)
        # Too large for one answer: halve the window, then go series by series.
        if [ $((e - s)) -gt "$MIN_CHUNK" ]; then
          mid=$((s + (e - s) / 2))
          printf '0\t%s\t%s\tw\t%s\n0\t%s\t%s\tw\t%s\n' "$s" "$mid" "$sel" "$mid" "$e" "$sel" >>"$next"
          njobs=$((njobs + 1))
        else
          printf '0\t%s\t%s\ts\t%s\n' "$s" "$e" "$sel" >>"$next"
        fi
        ;;
      3:x) die "one series has more samples in ${MIN_CHUNK}s than the server allows per query: lower --min-chunk (series $sel)" ;;
      3:s) die "the server refuses even a ${MIN_CHUNK}s window and the list of its series: lower --min-chunk" ;;
      *)
        [ "$att" -le "$retry_attempt" ] || retry_attempt=$att
        printf '%s\t%s\t%s\t%s\t%s\n' "$att" "$s" "$e" "$kind" "$sel" >>"$next"
        ;;
      esac
    done <"$TMPD/batch.tsv"
    exec 3<&-
    [ "$#" = 0 ] || add_answers "$@"
    mv -f "$next" "$queue"
    [ "$PROGRESS" = 0 ] || printf '\r%s: requests %s/%s   ' "$PROG" "$done" "$njobs" >&2
    if [ "$retry_attempt" -gt 0 ]; then
      delay=$(backoff "$retry_attempt" "$RETRY_AFTER")
      [ "$PROGRESS" = 0 ] || printf '\n%s: retry %s/%s in %ss\n' "$PROG" "$retry_attempt" "$RETRIES" "$delay" >&2
      sleep "$delay"
    fi
  done
  [ "$PROGRESS" = 0 ] || printf '\n' >&2
}

# ---------------------------------------------------------------- writing the file
# The text that each series' samples share, one line per series (name TAB labels, sorted),
# with backslashes and newlines escaped as \\ and \n so that a csv label holding a newline
# stays on one line. csv: a header first.
# shellcheck disable=SC2016
JQ_HEADS_CSV='[inputs | split("\t")] as $k
  | ([$k[] | .[1] | fromjson | .[][0]] | unique) as $cols
  | (["timestamp", "metric"] + $cols + ["value"] | join(",")),
    ($k[] | (.[1] | fromjson | map({(.[0]): .[1]}) | add // {}) as $l
      | "," + ([.[0]] + [$cols[] | $l[.] // ""] | @csv) + ",")'
# shellcheck disable=SC2016
JQ_HEADS_JSONL='inputs | split("\t") | {__name__: .[0]} + (.[1] | fromjson | map({(.[0]): .[1]}) | add // {}) | tojson'
# shellcheck disable=SC2016
JQ_HEADS_OPENMETRICS='def esc: gsub("\\\\"; "\\\\") | gsub("\""; "\\\"") | gsub("\n"; "\\n");
  inputs | split("\t")
  | .[0] + (.[1] | fromjson | if length == 0 then "" else "{" + (map("\(.[0])=\"\(.[1] | esc)\"") | join(",")) + "}" end) + " "'

# The sorted lines of all windows (see AWK_JOIN) -> the file. Per series, lines come in window
# order; keeping only samples after the last one written gives each (series, timestamp) once,
# sorted, even where windows or selectors overlap. POSIX awk: mawk, BWK (macOS), gawk, busybox.
# shellcheck disable=SC2016
AWK_FORMAT='
function unesc(s,   out, i, c) {
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
function civil(z,   era, doe, yoe, y, doy, mp, d, m) { # days since 1970-01-01 -> "YYYY-MM-DDT"
  z += 719468
  era = int(z / 146097)
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
function iso(t,   sec) { # seconds (at most 3 decimals) -> 2026-11-25T13:05:00.000Z; the date is kept for the next samples
  sec = int(t)
  if (sec < day || sec >= day + 86400) { day = sec - sec % 86400; date = civil(day / 86400) }
  return date HMS[sec - day] "." D3[int((t - sec) * 1000 + 0.5)] "Z"
}
function millis(ts,   x, p) { # seconds as written (at most 3 decimals) -> milliseconds, as text
  x = ts "."
  p = index(x, ".")
  return substr(x, 1, p - 1) substr(substr(x, p + 1, length(x) - p - 1) "000", 1, 3)
}
function add(list, piece) { return list == "" ? piece : list "," piece }
function end_series() {
  if (key != "" && f == JSONL) print "{\"metric\":" head ",\"values\":[" sv "],\"timestamps\":[" st "]}"
  sv = ""; st = ""
}
BEGIN {
  FS = "\t"; key = ""; day = 0; date = civil(0); failed = 0
  CSV = 1; JSONL = 2; OPENMETRICS = 3
  f = (fmt == "csv") ? CSV : (fmt == "jsonl") ? JSONL : OPENMETRICS
  heads = ENVIRON["EXPORT_HEADS"]
  for (i = 0; i < 60; i++) D2[i] = (i < 10 ? "0" : "") i
  for (i = 0; i < 1000; i++) D3[i] = sprintf("%03d", i)
  for (i = 0; i < 86400; i++) HMS[i] = D2[int(i / 3600)] ":" D2[int(i / 60) % 60] ":" D2[i % 60]
  JNUM["NaN"] = "null"; JNUM["Inf"] = JNUM["+Inf"] = "1.7976931348623157e+308"; JNUM["-Inf"] = "-1.7976931348623157e+308"
  if (f == CSV) print nexthead()
}
{
  if ($1 FS $2 != key) {
    end_series()
    if (f == OPENMETRICS && (key == "" || $1 != name)) print "# TYPE " $1 " unknown"
    name = $1; key = $1 FS $2; head = nexthead(); last = 0
  }
  # $6 is time,value,time,value,...: a[2k - 1] and a[2k] are the k-th sample. Samples $4+1..$5
  # lie in the window, in time order (as the query API returns them), so those already written
  # (where windows or selectors overlap) lead the line.
  split($6, a, ",")
  for (k = $4 + 1; k <= $5 && a[2 * k - 1] + 0 <= last; k++) ;
  if (k <= $5) last = a[2 * $5 - 1] + 0
  if (f == CSV) for (; k <= $5; k++) print iso(a[2 * k - 1]) head a[2 * k]
  else if (f == OPENMETRICS) for (; k <= $5; k++) print head a[2 * k] " " a[2 * k - 1]
  else {
    # the lists built in blocks of 64 samples, added to the window lists, then to the series
    # lists (appending sample by sample to one long string takes quadratic time)
    wv = ""; wt = ""; c = 0
    for (; k <= $5; k++) {
      v = a[2 * k]
      if (v in JNUM) v = JNUM[v]
      if (c++ > 0) { bv = bv "," v; bt = bt "," millis(a[2 * k - 1]) } else { bv = v; bt = millis(a[2 * k - 1]) }
      if (c == 64) { wv = add(wv, bv); wt = add(wt, bt); c = 0 }
    }
    if (c > 0) { wv = add(wv, bv); wt = add(wt, bt) }
    if (wv != "") { sv = add(sv, wv); st = add(st, wt) }
  }
}
END {
  if (failed) exit 2
  end_series()
  if (f == OPENMETRICS) print "# EOF"
}'

# DATA and KEYS -> PARTIAL, in FORMAT
write_file() {
  local heads="$TMPD/heads.txt" jq_heads
  case $FORMAT in
  csv) jq_heads=$JQ_HEADS_CSV ;;
  jsonl) jq_heads=$JQ_HEADS_JSONL ;;
  openmetrics) jq_heads=$JQ_HEADS_OPENMETRICS ;;
  esac
  LC_ALL=C sort -u -T "$TMPD" "$KEYS" | jq -nrR "$jq_heads"' | gsub("\\\\"; "\\\\") | gsub("\n"; "\\n")' >"$heads" ||
    die "could not list the series"
  # A bounded buffer (then sort merges temporary files): by default GNU sort takes memory in
  # proportion to its input, 300 MB for 14 days of 1,000 series at one sample a minute.
  LC_ALL=C sort -S 32M -T "$TMPD" "$DATA" | EXPORT_HEADS=$heads awk -v fmt="$FORMAT" "$AWK_FORMAT" >"$PARTIAL" ||
    die "could not write the $FORMAT file"
}

# ---------------------------------------------------------------- main
cleanup() {
  [ -z "$PARTIAL" ] || rm -f "$PARTIAL"
  rm -rf "$TMPD"
}

main() {
  local token=${GRAFANA_READ_TOKEN:-}
  # Children (curl, jq) do not need the token in their environment: it reaches curl on stdin.
  export -n GRAFANA_READ_TOKEN 2>/dev/null || true
  parse_args "$@"
  check_args
  set_auth "$token"
  token=
  resolve_times

  PARTIAL=
  TMPD=$(mktemp -d "${TMPDIR:-/tmp}/export-metrics.XXXXXX") || die "cannot create a temp folder"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  PROGRESS=0
  if [ "$QUIET" = 0 ] && [ -t 2 ]; then PROGRESS=1; fi
  DATA="$TMPD/data.tsv"
  KEYS="$TMPD/keys.tsv"
  : >"$DATA"
  : >"$KEYS"

  fetch_all

  # stdout, a device or a FIFO (/dev/null, a named pipe) is written to at the end, never
  # replaced by a rename; a regular file is renamed into place only when complete.
  local stream_out out_dir
  [ -d "$OUT" ] && die "--out is a folder: $OUT"
  if [ "$OUT" = - ] || { [ -e "$OUT" ] && [ ! -f "$OUT" ]; }; then
    stream_out=1
    PARTIAL="$TMPD/out.partial"
  else
    stream_out=0
    out_dir=$(dirname -- "$OUT")
    [ -d "$out_dir" ] || die "no such folder: $out_dir"
    PARTIAL=$(mktemp "$out_dir/.${OUT##*/}.partial.XXXXXX") || die "cannot write in $out_dir"
  fi
  write_file
  if [ "$OUT" = - ]; then
    cat "$PARTIAL"
  elif [ "$stream_out" = 1 ]; then
    cat "$PARTIAL" >"$OUT" || die "could not write to $OUT"
  else
    mv -f "$PARTIAL" "$OUT" || die "could not move the result to $OUT"
  fi
  PARTIAL=
  [ "$PROGRESS" = 0 ] || note "done: $OUT"
}

main "$@"
