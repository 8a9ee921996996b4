package ociimage

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// DockerAnswers reports whether a docker client is installed and a Docker
// Engine answers it, and why not.
func DockerAnswers(ctx context.Context) (bool, string) {
	if _, err := exec.LookPath("docker"); err != nil {
		return false, "the docker client is not installed"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		return false, fmt.Sprintf("no Docker Engine answers (docker info: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	return true, "Docker Engine " + strings.TrimSpace(string(out))
}

// Load loads im's tarball into the local Docker Engine with `docker load`
// and checks that every ref now names im (its image ID is the config
// digest).
func Load(ctx context.Context, im Image, refs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "load", "--quiet", "--input", im.Tarball).CombinedOutput(); err != nil {
		return fmt.Errorf("docker load --input %s: %v: %s", im.Tarball, err, strings.TrimSpace(string(out)))
	}
	for _, ref := range refs {
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref).CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker image inspect %s after docker load: %v: %s", ref, err, strings.TrimSpace(string(out)))
		}
		if id := strings.TrimSpace(string(out)); id != im.ID.String() {
			return fmt.Errorf("docker load: %s is image %s, want %s", ref, id, im.ID)
		}
	}
	return nil
}
