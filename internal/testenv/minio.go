// Package testenv starts the real servers trailwatch's integration tests run against. It is imported by
// tests only; the servers are separate binaries (MinIO is AGPL and is never linked into trailwatch).
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Root credentials of every MinIO server StartMinIO starts. They only guard a loopback test server.
const (
	minioAccessKey = "trailwatch-test"
	minioSecretKey = "trailwatch-test-secret"
	minioRegion    = "us-east-1"
)

// How long StartMinIO waits for the server to come up, and Cleanup for it to stop.
const (
	minioStartTimeout = 60 * time.Second
	minioStopTimeout  = 10 * time.Second
)

// MinIO is a MinIO server started for one test, listening on loopback and storing in a temporary folder.
type MinIO struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string

	client *s3.Client
}

// StartMinIO starts a MinIO server for the test and stops it when the test ends. The binary is the one
// named by $MINIO_BIN, else minio on $PATH, else $(go env GOPATH)/bin/minio. Without one the test is
// skipped, or fails when TRAILWATCH_REQUIRE_MINIO=1 (as in CI); scripts/install-minio.sh installs it.
// With -short the test is skipped.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a MinIO server: skipped with -short")
	}
	bin, err := findServer("MINIO_BIN", "minio")
	if err != nil {
		Missing(t, "TRAILWATCH_REQUIRE_MINIO", fmt.Sprintf("MinIO server not found (%v): run `make tools` or scripts/install-minio.sh, or set MINIO_BIN", err))
	}
	dataDir := t.TempDir() // removed after the server is stopped: cleanups run last first
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // another process may take the free port before MinIO does
		m, err := startMinIO(t, bin, dataDir)
		if err == nil {
			return m
		}
		lastErr = err
	}
	t.Fatalf("start MinIO %s: %v", bin, lastErr)
	return nil
}

func startMinIO(t testing.TB, bin, dataDir string) (*MinIO, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, dataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioAccessKey,
		"MINIO_ROOT_PASSWORD="+minioSecretKey,
		"MINIO_BROWSER=off", // no web console, so no second port
		"MINIO_UPDATE=off",
	)
	m := &MinIO{Endpoint: "http://" + addr, AccessKey: minioAccessKey, SecretKey: minioSecretKey}
	if err := runServer(t, "MinIO", cmd, minioStopTimeout, m.waitReady); err != nil {
		return nil, err
	}
	m.client = s3.New(s3.Options{
		Region:       minioRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
	})
	return m, nil
}

// waitReady polls the liveness endpoint until it answers 200, the process exits, or the deadline passes.
func (m *MinIO) waitReady(exited <-chan struct{}) error {
	deadline := time.NewTimer(minioStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	url := m.Endpoint + "/minio/health/live"
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-deadline.C:
			return fmt.Errorf("minio not ready after %s", minioStartTimeout)
		case <-tick.C:
		}
	}
}

// Client returns an S3 client for the server, with the root credentials and path-style addressing.
func (m *MinIO) Client() *s3.Client { return m.client }

// MakeBucket creates a bucket, failing the test on error.
func (m *MinIO) MakeBucket(t testing.TB, name string) {
	t.Helper()
	if _, err := m.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Put stores an object, failing the test on error.
func (m *MinIO) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := m.client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// Env returns the environment a subprocess (or the AWS default configuration chain) needs to reach the
// server with the root credentials: pass it with the endpoint, which it does not set.
func (m *MinIO) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + m.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + m.SecretKey,
		"AWS_REGION=" + minioRegion,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// freeAddr returns a loopback address with a port nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
