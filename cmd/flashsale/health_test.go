package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHealthProbe: the container health check exits 0 on a 2xx answer and
// 1 on anything else, and refuses a URL it cannot probe as a usage error.
func TestHealthProbe(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /stopping", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"stopping"}`))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	// A port nothing listens on: listen, note it, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/health"
	ln.Close()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"healthy", []string{"--url", srv.URL + "/health"}, 0, `healthy: 200 OK {"status":"ok"}`},
		{"stopping", []string{"--url", srv.URL + "/stopping"}, 1, `unhealthy: 503 Service Unavailable {"status":"stopping"}`},
		{"not found", []string{"--url", srv.URL + "/nope"}, 1, "unhealthy: 404 Not Found"},
		{"refused", []string{"--url", refused}, 1, "unhealthy:"},
		{"too slow", []string{"--url", srv.URL + "/slow", "--timeout", "200ms"}, 1, "deadline exceeded"},
		{"not a URL", []string{"--url", "127.0.0.1:8081/health"}, 2, `--url "127.0.0.1:8081/health"`},
		{"not HTTP", []string{"--url", "ftp://127.0.0.1/health"}, 2, "want an http:// or https:// URL"},
		{"no host", []string{"--url", "http:///health"}, 2, "want an http:// or https:// URL"},
		{"zero timeout", []string{"--url", srv.URL + "/health", "--timeout", "0s"}, 2, "--timeout 0s"},
		{"stray argument", []string{srv.URL + "/health"}, 2, "unexpected argument"},
		{"help", []string{"--help"}, 0, "-url string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			start := time.Now()
			code := run(context.Background(), append([]string{"health"}, tt.args...), &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tt.wantCode, tt.want, out)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the probe must give up within its timeout", d)
			}
		})
	}
	if defaultHealthURL != "http://127.0.0.1:8081/health" {
		t.Errorf("default --url %s, want the worker's own http://127.0.0.1:8081/health", defaultHealthURL)
	}
}
