package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"flashsale/internal/workerservice"
)

func init() {
	register(&command{
		name:    "health",
		summary: "probe a GET /health endpoint: exit 0 when it answers 2xx (a container health check without a shell)",
		run:     runHealth,
	})
}

// defaultHealthURL is the worker's own /health inside its container.
var defaultHealthURL = "http://" + workerservice.DefaultAddr + "/health"

// maxHealthBody is how much of the answer is read and printed.
const maxHealthBody = 512

func runHealth(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var (
		target  string
		timeout time.Duration
	)
	fs := newFlagSet("health", "[--url URL] [--timeout D]",
		"Sends GET --url and exits 0 when the answer is 2xx, 1 otherwise (another status, no answer\n"+
			"within --timeout, a refused connection), printing the status and the start of the body.\n"+
			"It is the worker container's health check (`flashsale health` in the task definition's\n"+
			"CMD form: the image has no shell and no curl); `flashsale serve` and `flashsale worker`\n"+
			"answer 503 on /health while they stop.", stdout)
	fs.StringVar(&target, "url", defaultHealthURL, "the health endpoint to probe")
	fs.DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	u, err := url.Parse(target)
	switch {
	case err != nil:
		return usageError{fmt.Errorf("--url %q: %v", target, err)}
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return usageError{fmt.Errorf("--url %q: want an http:// or https:// URL", target)}
	case timeout <= 0:
		return usageError{fmt.Errorf("--timeout %v: must be positive", timeout)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{fmt.Errorf("--url %q: %v", target, err)}
	}
	// One probe, one connection: nothing kept alive past the process.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	line := fmt.Sprintf("%s %s", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("unhealthy: %s", line)
	}
	_, err = fmt.Fprintln(stdout, "healthy:", line)
	return err
}
