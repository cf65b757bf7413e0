#!/usr/bin/env bash
# Install the system programs voice-mcp needs (redis-server, espeak-ng for local speech out;
# for tests also sox, ffmpeg and nginx)
# when they are missing and we are root. Otherwise say what to install.
set -eu
want=("redis-server:redis-server" "espeak-ng:espeak-ng")
if [ "${1:-}" = "--test" ]; then
  want+=("sox:sox libsox-fmt-all" "ffmpeg:ffmpeg" "nginx:nginx")
fi
missing=()
for entry in "${want[@]}"; do
  cmd=${entry%%:*}; pkgs=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=($pkgs)
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing programs: ${missing[*]} - install them (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
