#!/usr/bin/env bash
# Copies the Chart.js release pinned in web/chartjs/package.json (and locked in its package-lock.json)
# into internal/report/assets/, which the HTML report embeds and inlines. The copied files are committed,
# so building trailwatch needs no npm; run this again only after changing the pinned version, then
# commit package.json, package-lock.json and the assets together. `go test ./internal/report/` checks
# that the embedded file is the pinned release.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=web/chartjs
dest=internal/report/assets

(cd "$pkg" && npm ci --no-audit --no-fund)

dist="$pkg/node_modules/chart.js/dist"
src="$dist/chart.umd.min.js"
[[ -f "$src" ]] || src="$dist/chart.umd.js" # older releases: embedded under the same name

mkdir -p "$dest"
cp "$src" "$dest/chart.umd.min.js"
cp "$pkg/node_modules/chart.js/LICENSE.md" "$dest/chart.js-LICENSE.md"
version="$(node -p 'require("./'"$pkg"'/node_modules/chart.js/package.json").version')"
echo "vendored chart.js $version from $src into $dest/"
