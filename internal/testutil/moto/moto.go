// Package moto starts a local moto_server (an emulator of the AWS APIs: SNS,
// SQS, CloudWatch Logs, ...) for tests, on a free loopback port, and builds
// aws-sdk-go-v2 configurations that talk to it with dummy credentials. No
// test ever reaches real AWS.
package moto

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every test uses.
const Region = "us-east-1"

// Dummy credentials: moto accepts anything; these are not secrets.
const (
	AccessKeyID     = "testing"
	SecretAccessKey = "testing"
)

// InstallHint says how to get moto_server.
const InstallHint = `moto_server not found on PATH; install it with: pip install "moto[server]" (the tests start it themselves on a free loopback port)`

// Server is a running moto_server.
type Server struct {
	// Endpoint is its base URL, http://HOST:PORT (127.0.0.1 unless
	// started with StartOn).
	Endpoint string
	cmd      *exec.Cmd
}

// Start starts a moto_server on a free loopback port for the test and stops
// it at cleanup. When moto_server is missing, the test fails with
// InstallHint if the CI environment variable is set, and is skipped with it
// otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return StartOn(t, "127.0.0.1", port)
}

// StartOn is Start on the given address and port, such as this machine's
// Docker bridge address for function containers to reach. It fails the test
// when the port is taken.
func StartOn(t testing.TB, host string, port int) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(InstallHint)
		}
		t.Skip(InstallHint)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Fatalf("moto_server on %s: the port is not free: %v", addr, err)
	} else {
		l.Close()
	}
	cmd := exec.Command(bin, "-H", host, "-p", strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.CreateTemp(t.TempDir(), "moto-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	s := &Server{Endpoint: "http://" + addr, cmd: cmd}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logf.Close()
	})
	if err := waitReady(s.Endpoint, 30*time.Second); err != nil {
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("moto_server did not start: %v\n%s", err, log)
	}
	return s
}

// Config returns an AWS configuration pointed at the server with dummy
// credentials.
func (s *Server) Config(t testing.TB) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
		config.WithBaseEndpoint(s.Endpoint),
	)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg
}

// Env returns the environment variables that point an SDK-based process
// (our binaries, the aws CLI) at the server with dummy credentials.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

var portMu sync.Mutex

func freePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func waitReady(endpoint string, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(endpoint + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %w", within, last)
}
