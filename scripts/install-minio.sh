#!/usr/bin/env bash
# Installs the MinIO server that trailwatch's S3 integration tests run against, as
# $(go env GOPATH)/bin/minio, unless a file is already there. Safe to run again.
#
# MinIO is AGPL: it is built and run as a separate test server, never imported into trailwatch.
# The build takes about 5 minutes on 2 cores and gives a ~150 MB binary; cache $(go env GOPATH)/bin
# between CI runs to skip it.
set -euo pipefail

# The module proxy's version list for github.com/minio/minio can be refused, so the version is pinned:
# the pseudo-version @latest resolved to on 2026-02-12 (commit 7aac2a2c5b7c).
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

gopath="$(go env GOPATH)"
bin="${gopath%%:*}/bin/minio"

if [[ -x "$bin" ]]; then
	echo "minio already installed: $bin"
	exit 0
fi

echo "building minio@${MINIO_VERSION} (takes a few minutes)..." >&2
start=$SECONDS
GOBIN="$(dirname "$bin")" go install "github.com/minio/minio@${MINIO_VERSION}"
echo "minio installed: $bin ($((SECONDS - start)) s)"
