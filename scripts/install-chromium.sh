#!/usr/bin/env bash
# Installs Debian's Chromium, the real headless browser the HTML report test opens the review in
# (internal/report). Safe to run again: does nothing when /usr/bin/chromium is there.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
	echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
	exit 0
fi
sudo_cmd=""
if [[ "$(id -u)" != 0 ]]; then
	sudo_cmd="sudo"
fi
echo "installing Debian's chromium with apt-get..." >&2
$sudo_cmd apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -yq --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
