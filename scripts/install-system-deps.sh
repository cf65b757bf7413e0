#!/usr/bin/env bash
# Install the system programs voice-mcp needs (redis-server, espeak-ng for local speech out;
# for tests also sox, ffmpeg, nginx, and chromium with its driver for the console's browser
# tests)
# when they are missing and we are root. Otherwise say what to install.
set -eu
want=("redis-server:redis-server" "espeak-ng:espeak-ng")
# Without these (and not root) only the browser and nginx tests are skipped, so they do not
# stop `make test`.
optional=("chromium" "chromedriver" "nginx")
if [ "${1:-}" = "--test" ]; then
  want+=("sox:sox libsox-fmt-all" "ffmpeg:ffmpeg" "nginx:nginx"
         "chromium:chromium" "chromedriver:chromium-driver")
fi
missing=()
required_missing=0
for entry in "${want[@]}"; do
  cmd=${entry%%:*}; pkgs=${entry#*:}
  if ! command -v "$cmd" >/dev/null 2>&1; then
    missing+=($pkgs)
    [[ " ${optional[*]} " == *" $cmd "* ]] || required_missing=1
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif [ "$required_missing" = "0" ]; then
  echo "missing ${missing[*]}: the browser or nginx tests that need them will be skipped" \
       "(sudo apt-get install ${missing[*]})" >&2
else
  echo "missing programs: ${missing[*]} - install them (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
