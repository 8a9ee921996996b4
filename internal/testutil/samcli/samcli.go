// Package samcli lets tests run the real AWS SAM CLI against the real Docker
// Engine: it finds the project's pinned SAM CLI (.venv/sam, installed by
// `make tools`), checks that a Docker Engine answers and that SAM's base
// image for this machine is there (the offline stand-in of `make
// lambda-base-image`, or the AWS one), finds this machine's Docker bridge
// address (the only address a function container may reach a local emulator
// at), and removes every container a test leaves behind.
//
// When a tool is missing, a test fails with the set-up hint if the CI
// environment variable is set, and is skipped with it otherwise.
package samcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// SetupHint says how to get what these tests need.
const SetupHint = "run `make tools` (scripts/tools: the pinned SAM CLI in .venv/sam, Docker Engine from Debian, dockerd started, the offline Lambda base image)"

// ContainerLabel is the label SAM CLI puts on every function container it
// starts (samcli/local/docker/lambda_container.py).
const ContainerLabel = "sam.cli.container.type"

// missing fails the test in CI and skips it elsewhere, with SetupHint.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	missingWith(t, SetupHint, format, args...)
}

// missingWith fails the test in CI and skips it elsewhere, with hint.
func missingWith(t testing.TB, hint, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + ": " + hint
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Bin returns the SAM CLI to run: $FLASHSALE_SAM, else root/.venv/sam/bin/sam
// (the pinned one `make tools` installs), else `sam` on PATH.
func Bin(t testing.TB, root string) string {
	t.Helper()
	if p := os.Getenv("FLASHSALE_SAM"); p != "" {
		return p
	}
	if p, err := filepath.Abs(filepath.Join(root, ".venv", "sam", "bin", "sam")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("sam"); err == nil {
		return p
	}
	missing(t, "the SAM CLI is not installed")
	return ""
}

// Arch is this machine's architecture as Lambda names it: x86_64 or arm64.
func Arch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// BaseImage is the image SAM CLI builds a provided.al2023 function's
// container on, for arch (samcli/local/docker/lambda_image.py).
func BaseImage(arch string) string {
	return "public.ecr.aws/lambda/provided:al2023-" + arch
}

// EngineHint says how to get a running Docker Engine.
const EngineHint = "install Docker Engine and start it: `make tools` (scripts/tools install; scripts/tools docker-up starts dockerd)"

// DockerEngine checks that the docker client is installed and a Docker
// Engine answers it, and returns the engine's version. When not, the test
// fails with EngineHint if the CI environment variable is set, and is
// skipped with it otherwise.
func DockerEngine(t testing.TB) string {
	t.Helper()
	return engine(t, EngineHint)
}

// engine checks that the docker client is installed and a Docker Engine
// answers it, and returns the engine's version; when not, the test is
// missing what hint says.
func engine(t testing.TB, hint string) string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		missingWith(t, hint, "docker is not installed")
	}
	out, err := docker(10*time.Second, "info", "--format", "{{.ServerVersion}}")
	if err != nil {
		missingWith(t, hint, "no Docker Engine answers (%v: %s)", err, out)
	}
	return out
}

// Docker checks that a Docker Engine answers and that SAM's base image for
// this machine is there, and arranges for every SAM function container the
// test leaves behind to be removed at its end.
func Docker(t testing.TB) {
	t.Helper()
	engine(t, SetupHint)
	if _, err := docker(10*time.Second, "image", "inspect", BaseImage(Arch())); err != nil {
		missing(t, "SAM's base image %s is not here (make lambda-base-image)", BaseImage(Arch()))
	}
	before := Containers(t)
	t.Cleanup(func() {
		for _, id := range Containers(t) {
			if !slices.Contains(before, id) {
				if out, err := docker(30*time.Second, "rm", "--force", "--volumes", id); err != nil {
					t.Errorf("removing container %s: %v: %s", id, err, out)
				}
			}
		}
	})
}

// Containers lists the SAM function containers there now, running or not.
func Containers(t testing.TB) []string {
	t.Helper()
	out, err := docker(30*time.Second, "ps", "--all", "--quiet", "--no-trunc", "--filter", "label="+ContainerLabel)
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.Fields(out)
}

func docker(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// BridgeIP is this machine's address on Docker's default bridge network
// (docker0): where a container reaches the host, and what Docker's
// host-gateway (SAM's --add-host host.docker.internal:host-gateway) maps to.
func BridgeIP(t testing.TB) string {
	t.Helper()
	name, err := docker(10*time.Second, "network", "inspect", "bridge", "--format", `{{index .Options "com.docker.network.bridge.name"}}`)
	if err != nil || name == "" {
		t.Fatalf("docker network inspect bridge: %v: %s", err, name)
	}
	ip, err := interfaceIPv4(name)
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

func interfaceIPv4(name string) (string, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return "", fmt.Errorf("docker bridge interface %s: %w", name, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return "", fmt.Errorf("addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("docker bridge interface %s has no IPv4 address", name)
}

// Env is the environment of a SAM CLI command: this process's, without
// telemetry, plus extra (NAME=value).
func Env(extra ...string) []string {
	env := append(os.Environ(), "SAM_CLI_TELEMETRY=0")
	return append(env, extra...)
}

// Result is what a command printed and how it ended.
type Result struct {
	Stdout, Stderr string
	Took           time.Duration
	Err            error
}

// Run runs the SAM CLI (bin) with args in dir, with Env(extra...), within
// timeout; a non-zero exit is in Err, not a test failure.
func Run(t testing.TB, bin, dir string, timeout time.Duration, extra []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = Env(extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start), Err: err}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Err = fmt.Errorf("sam %s: no answer within %v: %w", strings.Join(args, " "), timeout, ctx.Err())
	}
	return r
}
