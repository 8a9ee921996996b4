package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestPlanCommand runs the example and checks the study's figures.
func TestPlanCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"plan", "--rate", "60", "--burst", "60s", "--payment-delay", "3s", "--workers", "1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"3,580", "10,740 s", "10,849 s", "181 workers", "0.33 orders/s", "Synchronous path: 20 users"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	code = run(context.Background(), []string{"plan", "--rate", "51", "--workers", "1,5,20,100", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, stderr.String())
	}
	var got struct {
		Queue []struct {
			Workers     int     `json:"workers"`
			PeakBacklog float64 `json:"peak_backlog"`
		} `json:"queue"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout.String())
	}
	wantBacklog := map[int]float64{1: 3040, 5: 2960, 20: 2660, 100: 1060}
	if len(got.Queue) != 4 {
		t.Fatalf("queue plans = %+v", got.Queue)
	}
	for _, p := range got.Queue {
		if diff := p.PeakBacklog - wantBacklog[p.Workers]; diff > 1e-6 || diff < -1e-6 {
			t.Errorf("%d workers: backlog %v, want %v", p.Workers, p.PeakBacklog, wantBacklog[p.Workers])
		}
	}
}

// TestPlanConcurrencyQuota: plan gives the processor's concurrency as a
// share of the account's quota, and warns when it passes it.
func TestPlanConcurrencyQuota(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		warns   bool
		jsonArg bool
	}{
		{"study burst, default quota", []string{"--rate", "60"}, "180.0 of the account's 1,000 (18.0%)", false, false},
		{"async throttle, long payments", []string{"--rate", "100", "--payment-delay", "15s"}, "1,500.0 of the account's 1,000 (150.0%)", true, false},
		{"quota given", []string{"--rate", "60", "--concurrency-quota", "100"}, "180.0 of the account's 100 (180.0%)", true, false},
		{"exactly the quota", []string{"--rate", "100", "--payment-delay", "10s"}, "1,000.0 of the account's 1,000 (100.0%)", false, false},
		{"json", []string{"--rate", "60", "--concurrency-quota", "100", "--json"}, `"over_concurrency_quota": true`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), append([]string{"plan", "--workers", "1", "--runs", "1"}, tt.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if !tt.jsonArg && strings.Contains(out, "WARNING: the processor alone needs") != tt.warns {
				t.Errorf("warning shown %v, want %v:\n%s", !tt.warns, tt.warns, out)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"plan", "--concurrency-quota", "0"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--concurrency-quota") {
		t.Errorf("--concurrency-quota 0: exit %d, %s; want a usage error", code, stderr.String())
	}
}

func TestPlanAndLoadUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"plan bad workers", []string{"plan", "--workers", "1,x"}, 2, "not a positive integer"},
		{"plan zero workers", []string{"plan", "--workers", "0"}, 2, "not a positive integer"},
		{"plan bad delay", []string{"plan", "--payment-delay", "0s"}, 2, "payment delay"},
		{"plan help", []string{"plan", "--help"}, 0, "-payment-delay duration"},
		{"load no model", []string{"load", "--url", "http://127.0.0.1:1"}, 2, "exactly one of --users"},
		{"load both models", []string{"load", "--users", "1", "--rate", "1"}, 2, "exactly one of --users"},
		{"load bad scenario", []string{"load", "--users", "1", "--scenario", "batch"}, 2, "scenario"},
		{"load two depth sources", []string{"load", "--users", "1", "--depth", "--metrics-url", "http://127.0.0.1:1/metrics"}, 2, "one depth source"},
		{"load help", []string{"load", "--help"}, 0, "-spawn-rate float"},
		{"lab bad time scale", []string{"lab", "--time-scale", "0.5", "--out", "unused"}, 2, "time scale"},
		{"lab bad phase", []string{"lab", "--phases", "sync,bogus", "--out", "unused"}, 2, "phase"},
		{"lab help", []string{"lab", "--help"}, 0, "-time-scale float"},
		{"bench bad rates", []string{"bench", "--rates", "10,x"}, 2, "--rates"},
		{"bench help", []string{"bench", "--help"}, 0, "-max-workers int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stdout.String()+stderr.String(), tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s%s", code, tt.wantCode, tt.want, stdout.String(), stderr.String())
			}
		})
	}
}

// TestPlanWorkerService runs the command: the backlog per task to
// aim at and the tasks the study's burst needs, in text and JSON.
func TestPlanWorkerService(t *testing.T) {
	args := []string{"plan", "--latency", "60s", "--payment-delay", "3s", "--workers-per-task", "20", "--runs", "1"}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		"Worker service on ECS, scaled on backlog per task: 20 workers per task, latency 1m0s",
		"one task pays               6.67 orders/s",
		"paid within the latency     400 orders per task",
		"in payment                  20 orders per task",
		"backlog per task to aim at  380 visible messages per running task",
		"tasks for real time         10",
		"tasks holding the burst     10 (⌈λ·T / target⌉ = ⌈3,600 / 380⌉",
		"tasks the burst needs       10",
		"WorkersPerTask=20 PaymentDelay=3s BacklogPerTaskTarget=380 MaxTasks=10",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout.String())
		}
	}

	stdout.Reset()
	if code := run(context.Background(), append(args, "--json"), &stdout, &stderr); code != 0 {
		t.Fatalf("json: exit %d: %s", code, stderr.String())
	}
	var got struct {
		Service *struct {
			Target int `json:"target_backlog_per_task"`
			Tasks  int `json:"tasks"`
		} `json:"service"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout.String())
	}
	if got.Service == nil || got.Service.Target != 380 || got.Service.Tasks != 10 {
		t.Errorf("json service %+v, want target 380 and 10 tasks", got.Service)
	}

	// Without --workers-per-task, no section; --latency alone is a mistake.
	stdout.Reset()
	if code := run(context.Background(), []string{"plan", "--runs", "1"}, &stdout, &stderr); code != 0 || strings.Contains(stdout.String(), "Worker service") {
		t.Errorf("plain plan: exit %d, worker service section shown: %v", code, strings.Contains(stdout.String(), "Worker service"))
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--latency", "30s"}, "give --workers-per-task too"},
		{[]string{"plan", "--workers-per-task", "-1"}, "--workers-per-task -1"},
		{[]string{"plan", "--workers-per-task", "20", "--latency", "2s"}, "latency 2s: must be longer than one payment"},
	} {
		stderr.Reset()
		if code := run(context.Background(), bad.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), bad.want) {
			t.Errorf("%v: exit %d, %s; want a usage error containing %q", bad.args, code, stderr.String(), bad.want)
		}
	}
}
