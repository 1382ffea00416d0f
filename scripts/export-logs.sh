#!/usr/bin/env bash
# export-logs.sh - copy every log line of the bot out of Grafana Cloud Logs (or any Loki 3)
# before the 14-day retention drops it.
# Needs: bash >= 3.2, curl, jq (1.6+), and POSIX awk, sort (plus -S, as in GNU, BSD and macOS sort), sed.
# No GNU-only tools, no `date`.
#
# How: the time range is cut into windows (at most 30 days each: Loki refuses longer ranges),
# and each window is read oldest first in pages of --limit lines (Loki answers at most 5,000).
# A full page is written up to, but not including, its newest nanosecond, and the next page
# starts at that nanosecond: the lines that share it are read again whole, so none is lost or
# doubled whichever of them the page cut off. A page that holds one nanosecond only (more lines
# share it than a page holds) cannot move on that way: that nanosecond alone is then read in
# parts, each part narrowed by line filters (a line-prefix regular expression and its negation)
# or, for lines equal in several streams, a label filter, until every part fits in a page.
# jq reads each page into one line per log line, sort puts a page in order (a page is bounded,
# so memory is too), and awk appends it to the file in the chosen format.
set -euo pipefail

PROG=${0##*/}
# The streams the integration's cards write (src/loki.ts SERVICE_NAME).
DEFAULT_QUERY='{service_name="botpress"}'
TAB=$(printf '\t')
NS=1000000000
MAX_CHUNK=2592000 # 30 days: Loki refuses a range over 30 days 1 hour (max_query_length)
MAX_DEPTH=400     # filters that one nanosecond's lines may need, at most

usage() {
  cat <<'EOF'
Usage: export-logs.sh [options]

Exports log lines - each with its timestamp in nanoseconds, its stream labels and its
structured metadata - from Grafana Cloud Logs (Loki's query API) to a file.

Connection (flags win over the environment):
  --url URL          Loki base URL                                [$GRAFANA_LOGS_URL]
                     Grafana Cloud: https://logs-prod-NNN.grafana.net (Grafana Cloud portal
                     -> your stack -> Loki -> "Details"); a URL ending in /loki/api/v1/push
                     is accepted too. Local Loki: http://127.0.0.1:3100
  --user ID          Basic-auth user: the Loki (logs) user ID      [$GRAFANA_LOGS_USER_ID]
                     (a number, not the same as the metrics user ID)
  --token-file FILE  read the token from FILE (first line)
                     The token is read from $GRAFANA_LOGS_READ_TOKEN or --token-file only,
                     never from a flag. It needs the logs:read scope (Grafana Cloud portal ->
                     Access Policies -> create a policy with logs:read -> add a token). It is
                     not the integration's write key.
                     With a token but no user ID it is sent as a Bearer token.

What to export:
  --from TIME        start, exclusive (default: 14d, i.e. 14 days before now)
  --to TIME          end, inclusive   (default: now)
                     TIME: now | 14d | 6h | 30m | 90s | 2w (= that long before now) |
                     ISO 8601: 2026-11-01, 2026-11-01T08:30:00Z, 2026-11-01T10:30:00+02:00
                     (no zone = UTC) | unix seconds (1764000000). Sub-seconds are dropped.
                     A line at exactly --to is exported, one at exactly --from is not, so
                     consecutive runs (--from A --to B, then --from B --to C) never overlap.
  --query LOGQL      a LogQL log query: a stream selector with optional line and label
                     filters. Default: the streams the integration's cards write,
                       {service_name="botpress"}
                     e.g. --query '{service_name="botpress", botId="my-bot"}'
                          --query '{service_name="botpress"} | conversationId="c1"'
                     Lines are exported as the query returns them.

Output:
  --format FMT       jsonl (default) | push
                     jsonl: one line per log line, oldest first:
                            {"ts":"<ns>","labels":{...},"metadata":{...},"line":"..."}
                            ts: nanoseconds since 1970 as a string; labels: the stream labels
                            (service_name included); metadata: the structured metadata
                            (detected_level included). Lines of one nanosecond are ordered by
                            their labels, then by the line (each compared as its JSON text).
                     push:  a Loki push request that restores the lines into another Loki:
                            curl -u USER:TOKEN -H 'Content-Type: application/json' \
                              --data-binary @FILE https://HOST/loki/api/v1/push
                            {"streams":[ one {"stream":{...},"values":[["<ns>","line",{meta}],...]}
                            per line of the file, a stream's entries oldest first ]}; see
                            docs/export-logs.md to push it in parts (Grafana Cloud takes a few
                            MB per request, and refuses lines older than about a week).
  --out FILE         output file (default: logs-export.jsonl, or logs-export.push.json);
                     "-" = stdout. Written to a temp file next to it and renamed only when
                     complete; re-running replaces the file (never appends). Created with
                     mode 0600. A device or named pipe (e.g. /dev/null) is written to, not
                     replaced.
  -q, --quiet        no progress (progress is shown only when stderr is a terminal)

Tuning (defaults are fine for Grafana Cloud):
  --chunk DUR        time window per series of pages (default 1d, at most 30d)
  --limit N          lines per page, 2 to 5000 (default 5000, Loki's maximum)
  --timeout SEC      per request (default 120)
  --retries N        retries on 429, 5xx and network errors, with backoff (default 5)
  --retry-delay SEC  first backoff delay, doubled each retry, at most 30 (default 1)
  -h, --help         this text

Examples:
  export GRAFANA_LOGS_URL=https://logs-prod-006.grafana.net
  export GRAFANA_LOGS_USER_ID=654321
  read -rs GRAFANA_LOGS_READ_TOKEN && export GRAFANA_LOGS_READ_TOKEN   # paste the token, not echoed
  ./scripts/export-logs.sh --out bot-logs.jsonl
  ./scripts/export-logs.sh --from 2026-11-01 --to 2026-11-15 --out nov.jsonl
  ./scripts/export-logs.sh --format push --from 2h --out restore.json
  jq -r 'select(.metadata.detected_level == "error") | .line' bot-logs.jsonl

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
  URL=${GRAFANA_LOGS_URL:-}
  USER_ID=${GRAFANA_LOGS_USER_ID:-}
  TOKEN_FILE=
  FROM_ARG=14d
  TO_ARG=now
  QUERY=$DEFAULT_QUERY
  FORMAT=jsonl
  OUT=
  QUIET=0
  CHUNK_ARG=1d
  LIMIT=5000
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
      die "$opt is not accepted: a token on the command line is visible to every user (ps). Use GRAFANA_LOGS_READ_TOKEN or --token-file."
      ;;
    --from) need_arg "$@"; FROM_ARG=$2; shift 2 ;;
    --to) need_arg "$@"; TO_ARG=$2; shift 2 ;;
    --query) need_arg "$@"; QUERY=$2; shift 2 ;;
    --format) need_arg "$@"; FORMAT=$2; shift 2 ;;
    --out) need_arg "$@"; OUT=$2; shift 2 ;;
    --quiet | -q) QUIET=1; shift ;;
    --chunk) need_arg "$@"; CHUNK_ARG=$2; shift 2 ;;
    --limit) need_arg "$@"; LIMIT=$2; shift 2 ;;
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
  case $FORMAT in
  jsonl) [ -n "$OUT" ] || OUT=logs-export.jsonl ;;
  push) [ -n "$OUT" ] || OUT=logs-export.push.json ;;
  *) die "--format must be jsonl or push (got: $FORMAT)" ;;
  esac
  [ -n "$QUERY" ] || die "--query must not be empty"
  [ -n "$URL" ] || die "no URL: set GRAFANA_LOGS_URL or pass --url (see --help)"
  case $URL in
  http://* | https://*) ;;
  *) die "--url must start with http:// or https:// (got: $URL)" ;;
  esac
  case ${URL#*://} in
  *@*) die "--url must not contain credentials: use GRAFANA_LOGS_USER_ID and GRAFANA_LOGS_READ_TOKEN" ;;
  esac
  while :; do
    case $URL in
    */) URL=${URL%/} ;;
    */loki/api/v1/*) URL=${URL%/loki/api/v1/*} ;;
    *) break ;;
    esac
  done
  case $LIMIT in '' | *[!0-9]*) die "--limit must be a whole number" ;; esac
  if [ "$LIMIT" -lt 2 ] || [ "$LIMIT" -gt 5000 ]; then die "--limit must be from 2 to 5000 (got: $LIMIT)"; fi
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
    die "GRAFANA_LOGS_USER_ID is set but no token: set GRAFANA_LOGS_READ_TOKEN (a token with logs:read) or use --token-file"
  fi
}

# Times: jq does the arithmetic (no `date`, whose flags differ between GNU and BSD).
# The same text as in export-metrics.sh (test/export-logs.test.ts holds them equal).
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

# -> FROM TO CHUNK in seconds, QUERY_URI (the query, URL-encoded)
resolve_times() {
  local times
  # shellcheck disable=SC2016
  if ! times=$(jq -nr --arg from "$FROM_ARG" --arg to "$TO_ARG" --arg chunk "$CHUNK_ARG" \
    "$JQ_TIME_DEFS"'
    (now | floor) as $now
    | def dur($name): . as $v | try dur_seconds catch error("\($name) must look like 6h, 1d or 7d (got \($v))");
    [($from | parse_time($now)), ($to | parse_time($now)), ($chunk | dur("--chunk"))]
    | map(floor | tostring) | join(" ")' 2>&1); then
    die "${times#jq: error (at <unknown>): }"
  fi
  read -r FROM TO CHUNK <<EOT
$times
EOT
  [ "$FROM" -lt "$TO" ] || die "--from must be before --to"
  [ "$CHUNK" -ge 1 ] || die "--chunk must be at least 1s"
  [ "$CHUNK" -le "$MAX_CHUNK" ] || die "--chunk must be at most 30d (Loki refuses longer queries)"
  local nchunks=$(((TO - FROM + CHUNK - 1) / CHUNK))
  [ "$nchunks" -le 100000 ] || die "$nchunks windows: raise --chunk"
  NCHUNKS=$nchunks
  # shellcheck disable=SC2016
  QUERY_URI=$(jq -nr --arg q "$QUERY" '$q | @uri') || die "could not encode --query"
}

# ---------------------------------------------------------------- requests
server_message() { # FILE -> a short message from an error answer
  local msg
  msg=$(jq -r 'if type == "object" then (.error // .message // empty) | tostring else empty end' "$1" 2>/dev/null) || msg=
  if [ -z "$msg" ]; then msg=$(head -c 300 "$1" 2>/dev/null | tr '\r\n\t' '   ') || msg=; fi
  printf '%s' "${msg:-(empty answer)}"
}

# backoff ATTEMPT RETRY_AFTER -> seconds to wait: --retry-delay doubled per attempt, at most 30,
# or the server's Retry-After when longer (at most 60)
backoff() {
  awk -v base="$RETRY_DELAY" -v n="$1" -v ra="$2" \
    'BEGIN { d = base * 2 ^ (n - 1); if (d > 30) d = 30; if (ra > 60) ra = 60; if (ra > d) d = ra; print d }'
}

# fetch QUERY_URI START END -> $ANS, the answer of query_range for [START, END) (nanoseconds),
# oldest first. Retries 429, 5xx and network errors; exits on any other error.
fetch() {
  local q=$1 start=$2 end=$3 attempt=0 code cerr ra
  local url="$URL/loki/api/v1/query_range?query=$q&start=$start&end=$end&limit=$LIMIT&direction=forward"
  while :; do
    attempt=$((attempt + 1))
    REQUESTS=$((REQUESTS + 1))
    rm -f "$ANS"
    [ "$REQUESTS" -le 10000000 ] || die "more than 10,000,000 requests: narrow --query or the window"
    code=$(
      {
        printf '%s\n' "$CURL_AUTH"
        printf '%s\n' "url = $(cfg_quote "$url")" "output = $(cfg_quote "$ANS")" "dump-header = $(cfg_quote "$TMPD/headers")" \
          'header = "X-Loki-Response-Encoding-Flags: categorize-labels"' 'header = "Accept: application/json"' \
          'write-out = "%{http_code} %{exitcode}"' compressed silent show-error \
          "max-time = $TIMEOUT" 'connect-timeout = 10'
      } | curl -q -K - 2>"$TMPD/curl.err"
    ) || true
    cerr=${code#* }
    code=${code%% *}
    case $cerr in '' | 0) ;; *) code=000 ;; esac # e.g. a transfer cut short after the headers
    [ -f "$ANS" ] || : >"$ANS"
    case $code in
    2??) return 0 ;;
    401 | 403)
      die "the server refused the credentials (HTTP $code): check GRAFANA_LOGS_USER_ID (the logs user ID) and that the token is right and has the logs:read scope (server said: $(server_message "$ANS"))"
      ;;
    429 | 5?? | 000) ;;
    4??) die "the server refused the query (HTTP $code): $(server_message "$ANS") (check --query, --limit and --chunk)" ;;
    *) die "unexpected answer (HTTP $code) from $URL/loki/api/v1/query_range: $(server_message "$ANS")" ;;
    esac
    if [ "$attempt" -gt "$RETRIES" ]; then
      case $code in
      000) die "cannot reach $URL after $attempt attempts: $(tr '\n' ' ' <"$TMPD/curl.err")" ;;
      *) die "HTTP $code from $URL/loki/api/v1/query_range after $attempt attempts: $(server_message "$ANS")" ;;
      esac
    fi
    ra=0
    if [ "$code" = 429 ] || [ "$code" = 503 ]; then
      ra=$(sed -n 's/^[Rr][Ee][Tt][Rr][Yy]-[Aa][Ff][Tt][Ee][Rr]:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$TMPD/headers" 2>/dev/null | tail -n 1) || ra=
      [ -n "$ra" ] || ra=0
    fi
    ra=$(backoff "$attempt" "$ra")
    [ "$PROGRESS" = 0 ] || printf '\n%s: HTTP %s, retry %s/%s in %ss\n' "$PROG" "$code" "$attempt" "$RETRIES" "$ra" >&2
    sleep "$ra"
  done
}

# ---------------------------------------------------------------- reading a page
# $ANS -> a first line "COUNT FIRST LAST" (the page's number of lines, its oldest and newest
# nanosecond), then one line per log line to write: all of them when the page is not full (the
# window ends there); when it is full, those older than its newest nanosecond, which the next
# page reads again whole. A line: ns (20 digits) TAB labels TAB line TAB metadata (jsonl) or
# labels TAB ns TAB line TAB metadata (push), each a compact JSON text (no tab, no newline;
# labels with sorted names, metadata as Loki gives it), so that `sort` orders a page as the
# file needs.
# shellcheck disable=SC2016
JQ_PAGE='
def pad: ("00000000000000000000"[0:(20 - length)]) + .;
def unpad: sub("^0+"; "") | if . == "" then "0" else . end;
if (type != "object") or .status != "success" then error("unexpected answer: \(tostring | .[0:200])")
elif .data.resultType != "streams" then error("not a log query: --query must be a stream selector with optional filters (the answer is a \(.data.resultType))")
elif ([.data.encodingFlags[]? | select(. == "categorize-labels")] | length) == 0 then
  error("the server ignores X-Loki-Response-Encoding-Flags: categorize-labels, so labels and structured metadata cannot be told apart (Loki 3.0 or later is needed)")
else . end
| [.data.result[].values[][0] | if type == "string" and length <= 20 then pad else error("not a timestamp: \(tojson)") end] as $ts
| ($ts | length) as $n
| ($ts | min // "0") as $first
| ($ts | max // "0") as $last
| "\($n) \($first | unpad) \($last | unpad)",
  (.data.result[] | (.stream | to_entries | sort_by(.key) | from_entries | tojson) as $l | .values[]
   | (.[0] | pad) as $t
   | select($n < $limit or $t < $last)
   | (.[1] | if type == "string" then tojson else error("not a log line: \(tojson)") end) as $line
   | (.[2].structuredMetadata // {} | tojson) as $meta
   | if $fmt == "push" then "\($l)\t\($t)\t\($line)\t\($meta)" else "\($t)\t\($l)\t\($line)\t\($meta)" end)'

# $ANS, a full page of one nanosecond read with the filters STAGES (a JSON array of LogQL
# stages) -> two lines "QUERY_URI TAB STAGES", the query narrowed with a filter and with its
# negation. Each half holds at least one line of the page, so every part is smaller than the
# whole: lines differ -> a line-prefix regular expression that the median line (in code point
# order) matches and the one before it does not; all lines equal (one per stream) -> a label
# whose value tells the first two streams apart. The regular expressions are written so that
# RE2 and JavaScript read them alike: literal characters, only syntax characters escaped.
# shellcheck disable=SC2016
JQ_SPLIT='
def re_esc: [explode[] | if ([.] | inside([92, 94, 36, 46, 42, 43, 63, 40, 41, 91, 93, 123, 125, 124])) then 92, . else . end] | implode;
def class_esc: [explode[] | if ([.] | inside([92, 93, 91, 94, 45])) then 92, . else . end] | implode;
[.data.result[] | .stream as $l | .values[] | {labels: $l, line: .[1]}] as $e
| ([$e[].line] | unique) as $lines
| if ($lines | length) >= 2 then
    ($lines | length / 2 | floor) as $m
    | ($lines[$m - 1] | explode) as $a
    | ($lines[$m] | explode) as $b
    | first(range(0; $b | length) | select(. >= ($a | length) or $a[.] != $b[.])) as $d
    | ("^" + ($b[0:$d] | implode | re_esc) + "[" + ([$b[$d]] | implode | class_esc) + "-" + ([1114111] | implode) + "]") as $re
    | [" |~ " + ($re | tojson), " !~ " + ($re | tojson)]
  else
    ([$e[].labels] | unique) as $s
    | if ($s | length) < 2 then error("the page repeats one line of one stream") else . end
    | first([$s[0], $s[1]] | map(keys[]) | unique[] | select($s[0][.] != $s[1][.])) as $k
    | ($s[0][$k] // "" | tojson) as $v
    | [" | \($k)=\($v)", " | \($k)!=\($v)"]
  end
| .[] | ($stages + [.]) as $st
| (($query + ($st | join(""))) | @uri) + "\t" + ($st | tojson)'

# ---------------------------------------------------------------- writing the file
# The sorted lines of a page (see JQ_PAGE) -> appended to the file. push: one stream object per
# stream and page, each on a line of its own, lines joined by ",".
# shellcheck disable=SC2016
AWK_WRITE='
BEGIN { FS = "\t" }
fmt == "jsonl" {
  ts = $1; sub(/^0+/, "", ts)
  printf "{\"ts\":\"%s\",\"labels\":%s,\"metadata\":%s,\"line\":%s}\n", ts, $2, $4, $3
  next
}
{
  ts = $2; sub(/^0+/, "", ts)
  if ($1 != stream) {
    if (stream != "") printf "]}"
    if (wrote) printf ",\n"
    printf "{\"stream\":%s,\"values\":[", $1
    stream = $1; wrote = 1; sep = ""
  }
  printf "%s[\"%s\",%s,%s]", sep, ts, $3, $4
  sep = ","
}
END { if (stream != "") printf "]}" }'

# FILE (lines of JQ_PAGE) -> appended to PARTIAL, in order
write_lines() {
  local n
  n=$(wc -l <"$1" | tr -d ' ')
  [ "$n" -gt 0 ] || return 0
  LC_ALL=C sort -S 32M -T "$TMPD" "$1" | awk -v fmt="$FORMAT" -v wrote="$WROTE" "$AWK_WRITE" >>"$PARTIAL" ||
    die "could not write the $FORMAT file"
  WROTE=1
  LINES=$((LINES + n))
}

# $ANS -> $TMPD/page.tsv and COUNT FIRST LAST (see JQ_PAGE)
read_page() {
  local head
  jq -r --argjson limit "$LIMIT" --arg fmt "$FORMAT" "$JQ_PAGE" "$ANS" >"$TMPD/page.tsv" 2>"$TMPD/jq.err" ||
    die "could not read an answer: $(sed 's/^jq: error ([^)]*): //' "$TMPD/jq.err" | head -c 400)"
  IFS= read -r head <"$TMPD/page.tsv" || head=
  read -r COUNT FIRST LAST <<EOT
$head
EOT
  case $COUNT:$FIRST:$LAST in
  *[!0-9:]* | :* | *::*) die "could not read an answer: bad timestamps ($head)" ;;
  esac
  sed 1d "$TMPD/page.tsv" >"$TMPD/lines.tsv"
}

# ---------------------------------------------------------------- paging
# Every line of nanosecond T -> written. The first part is the full page at hand ($ANS, no
# filter); a part that fills a page is split in two (JQ_SPLIT), one that does not is complete.
read_nanosecond() {
  local t=$1 group="$TMPD/group.tsv" top enc stages parts=0
  local -a stack_q stack_s
  : >"$group"
  top=0
  enc=$QUERY_URI
  stages='[]'
  while :; do
    parts=$((parts + 1))
    [ "$parts" -le 1000000 ] || die "more than 1,000,000 parts for the lines of nanosecond $t"
    if [ "$parts" -gt 1 ]; then
      fetch "$enc" "$t" "$((t + 1))"
      read_page
    fi
    if [ "$COUNT" -lt "$LIMIT" ]; then
      cat "$TMPD/lines.tsv" >>"$group"
    else
      [ "$(printf '%s' "$stages" | jq 'length')" -lt "$MAX_DEPTH" ] ||
        die "cannot tell apart the $COUNT+ lines of nanosecond $t with $MAX_DEPTH filters: raise --limit"
      jq -r --arg query "$QUERY" --argjson stages "$stages" "$JQ_SPLIT" "$ANS" >"$TMPD/parts.tsv" 2>"$TMPD/jq.err" ||
        die "could not split the lines of nanosecond $t: $(sed 's/^jq: error ([^)]*): //' "$TMPD/jq.err" | head -c 400)"
      while IFS="$TAB" read -r enc stages; do
        stack_q[top]=$enc
        stack_s[top]=$stages
        top=$((top + 1))
      done <"$TMPD/parts.tsv"
    fi
    [ "$top" -gt 0 ] || break
    top=$((top - 1))
    enc=${stack_q[top]}
    stages=${stack_s[top]}
  done
  write_lines "$group"
}

# Every line in [START, END) (nanoseconds) -> written, oldest first
read_window() {
  local c=$1 end=$2
  while [ "$c" -lt "$end" ]; do
    fetch "$QUERY_URI" "$c" "$end"
    read_page
    if [ "$COUNT" -lt "$LIMIT" ]; then
      write_lines "$TMPD/lines.tsv"
      break
    elif [ "$FIRST" = "$LAST" ]; then
      read_nanosecond "$LAST"
      c=$((LAST + 1))
    else
      write_lines "$TMPD/lines.tsv"
      c=$LAST
    fi
    show_progress
  done
}

show_progress() {
  [ "$PROGRESS" = 0 ] || printf '\r%s: window %s/%s, %s lines, %s requests   ' "$PROG" "$WINDOW" "$NCHUNKS" "$LINES" "$REQUESTS" >&2
}

# ---------------------------------------------------------------- main
cleanup() {
  [ -z "$PARTIAL" ] || rm -f "$PARTIAL"
  rm -rf "$TMPD"
}

main() {
  local token=${GRAFANA_LOGS_READ_TOKEN:-}
  # Children (curl, jq) do not need the token in their environment: it reaches curl on stdin.
  export -n GRAFANA_LOGS_READ_TOKEN 2>/dev/null || true
  parse_args "$@"
  check_args
  set_auth "$token"
  token=
  resolve_times

  PARTIAL=
  TMPD=$(mktemp -d "${TMPDIR:-/tmp}/export-logs.XXXXXX") || die "cannot create a temp folder"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  PROGRESS=0
  if [ "$QUIET" = 0 ] && [ -t 2 ]; then PROGRESS=1; fi
  ANS="$TMPD/answer.json"

  # stdout, a device or a FIFO (/dev/null, a named pipe) is written to at the end, never
  # replaced by a rename; a regular file is renamed into place only when complete.
  local stream_out out_dir s e
  [ -d "$OUT" ] && die "--out is a folder: $OUT"
  if [ "$OUT" = - ] || { [ -e "$OUT" ] && [ ! -f "$OUT" ]; }; then
    stream_out=1
    PARTIAL="$TMPD/out.partial"
    : >"$PARTIAL"
  else
    stream_out=0
    out_dir=$(dirname -- "$OUT")
    [ -d "$out_dir" ] || die "no such folder: $out_dir"
    PARTIAL=$(mktemp "$out_dir/.${OUT##*/}.partial.XXXXXX") || die "cannot write in $out_dir"
  fi

  REQUESTS=0
  LINES=0
  WROTE=0
  WINDOW=0
  [ "$FORMAT" != push ] || printf '{"streams":[\n' >>"$PARTIAL"
  s=$FROM
  while [ "$s" -lt "$TO" ]; do
    e=$((s + CHUNK))
    [ "$e" -le "$TO" ] || e=$TO
    WINDOW=$((WINDOW + 1))
    # (s, e] in seconds is [s + 1 ns, e + 1 ns) in Loki's terms
    read_window "$((s * NS + 1))" "$((e * NS + 1))"
    show_progress
    s=$e
  done
  if [ "$FORMAT" = push ]; then
    if [ "$WROTE" = 1 ]; then printf '\n]}\n' >>"$PARTIAL"; else printf ']}\n' >>"$PARTIAL"; fi
  fi
  [ "$PROGRESS" = 0 ] || printf '\n' >&2

  if [ "$OUT" = - ]; then
    cat "$PARTIAL"
  elif [ "$stream_out" = 1 ]; then
    cat "$PARTIAL" >"$OUT" || die "could not write to $OUT"
  else
    mv -f "$PARTIAL" "$OUT" || die "could not move the result to $OUT"
  fi
  PARTIAL=
  [ "$PROGRESS" = 0 ] || note "done: $LINES lines in $OUT"
}

main "$@"
