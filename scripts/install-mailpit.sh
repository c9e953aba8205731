#!/usr/bin/env bash
# Installs the Mailpit SMTP server that trailwatch's e-mail alert tests run against, as
# $(go env GOPATH)/bin/mailpit, unless a file is already there. Safe to run again.
#
# Mailpit (MIT) is built and run as a separate test server, never imported into trailwatch. The module proxy
# refuses `go install github.com/axllent/mailpit@VERSION`, so the script builds it from a throw-away tools
# module: `go get` it there, then `go build`. About 70-80 s on 2 cores, a ~33 MB binary; cache
# $(go env GOPATH)/bin between CI runs to skip it.
set -euo pipefail

MAILPIT_VERSION="${MAILPIT_VERSION:-v1.30.5}"

gopath="$(go env GOPATH)"
bin="${gopath%%:*}/bin/mailpit"

if [[ -x "$bin" ]]; then
	echo "mailpit already installed: $bin"
	exit 0
fi

echo "building mailpit@${MAILPIT_VERSION} (takes about a minute)..." >&2
start=$SECONDS
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
cd "$tools"
cat >go.mod <<'EOF'
module trailwatch.local/tools/mailpit

go 1.26.0
EOF
export GOFLAGS="-mod=mod -buildvcs=false"
go get "github.com/axllent/mailpit@${MAILPIT_VERSION}"
mkdir -p "$(dirname "$bin")"
go build -trimpath \
	-ldflags "-s -w -X github.com/axllent/mailpit/config.Version=${MAILPIT_VERSION}" \
	-o "$bin.tmp" github.com/axllent/mailpit
mv "$bin.tmp" "$bin"
echo "mailpit installed: $bin ($((SECONDS - start)) s)"
