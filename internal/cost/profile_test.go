package cost_test

import (
	"flag"
	"math"
	"reflect"
	"strings"
	"testing"

	"flashsale/internal/cost"
)

func TestCostParseProfile(t *testing.T) {
	tests := []struct {
		in      string
		want    cost.Profile
		average float64
		peak    int
		text    string // String(); in when empty
	}{
		{"2@20h,10@3h,40@1h", cost.Profile{{2, 20}, {10, 3}, {40, 1}}, 110.0 / 24, 40, ""},
		{"40@1h,10@3h,2", cost.Profile{{40, 1}, {10, 3}, {2, 20}}, 110.0 / 24, 40, "40@1h,10@3h,2@20h"},
		{" 2 @ 20h , 10@3h,40@60m ", cost.Profile{{2, 20}, {10, 3}, {40, 1}}, 110.0 / 24, 40, "2@20h,10@3h,40@1h"},
		{"1@24h", cost.Profile{{1, 24}}, 1, 1, ""},
		{"3", cost.Profile{{3, 24}}, 3, 3, "3@24h"},
		{"0@20h,4", cost.Profile{{0, 20}, {4, 4}}, 16.0 / 24, 4, "0@20h,4@4h"},
		{"5@90m,1", cost.Profile{{5, 1.5}, {1, 22.5}}, (7.5 + 22.5) / 24, 5, "5@1h30m,1@22h30m"},
		{"1@23h59m,2", cost.Profile{{1, 23 + 59.0/60}, {2, 1.0 / 60}}, (23 + 59.0/60 + 2.0/60) / 24, 2, "1@23h59m,2@1m"},
		{"3@15m,1@90s,0", cost.Profile{{3, 0.25}, {1, 90.0 / 3600}, {0, 24 - 0.25 - 90.0/3600}}, (0.75 + 90.0/3600) / 24, 3, "3@15m,1@1m30s,0@23h43m30s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cost.ParseProfile(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Tasks != tt.want[i].Tasks || math.Abs(got[i].Hours-tt.want[i].Hours) > 1e-12 {
					t.Errorf("span %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			approx(t, "average tasks", got.AverageTasks(), tt.average, 1e-12)
			if got.Peak() != tt.peak {
				t.Errorf("peak %d, want %d", got.Peak(), tt.peak)
			}
			text := tt.text
			if text == "" {
				text = tt.in
			}
			if got.String() != text {
				t.Errorf("String() = %q, want %q", got.String(), text)
			}
			// The text form reads back the same.
			back, err := cost.ParseProfile(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseProfile(%q) = %+v, %v; want %+v", got.String(), back, err, got)
			}
		})
	}
}

func TestCostParseProfileErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty: give TASKS@DURATION items covering a day"},
		{"  ", "empty"},
		{"2@20h", "the durations add up to 20h0m0s: a profile covers a day, 24h"},
		{"2@20h,3@5h", `the durations add up to 25h0m0s by "3@5h": a profile is one day, 24h`},
		{"2@25h", `"2@25h": duration 25h0m0s must be at least 1m0s`},
		{"2@30s,1", `"2@30s": duration 30s must be at least 1m0s (Fargate bills a task at least a minute)`},
		{"2@23h59m30s,1", "leaves 30s for the item without a duration (1 task): it needs at least 1m0s"},
		{"2@24h,1", "leaves 0s for the item without a duration"},
		{"2@0h,1", `"2@0h": duration 0s must be at least 1m0s`},
		{"2@-1h,1", `"2@-1h": duration -1h0m0s must be at least`},
		{"2,3", `"3": only one item may omit its @DURATION (it takes the rest of the day)`},
		{"x@2h,1", `"x@2h": tasks "x" must be a whole number, 0 or more`},
		{"-1@24h", `"-1@24h": tasks "-1" must be a whole number, 0 or more`},
		{"1.5@24h", `tasks "1.5" must be a whole number`},
		{"@24h", `tasks "" must be a whole number`},
		{"2@20", `"2@20": duration "20": want a duration such as 20h, 90m or 1h30m`},
		{"2@20h,,2", "item 2 is empty"},
		{"2@24h,", "item 2 is empty"},
		{"0@24h", "no task at any hour"},
		{"0@20h,0", "no task at any hour"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cost.ParseProfile(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseProfile(%q) = %+v, %v; want an error containing %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestProfileFlags: --task-profile, --workers-per-task and --curve set
// their parameters, and a bad value is an error naming the flag.
func TestCostProfileFlags(t *testing.T) {
	p := cost.Defaults()
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	p.RegisterFlags(fs)
	if err := fs.Parse([]string{"--task-profile", "2@20h,10@3h,40@1h", "--workers-per-task", "20", "--curve", "1000, 1e6,0"}); err != nil {
		t.Fatal(err)
	}
	if want := (cost.Profile{{2, 20}, {10, 3}, {40, 1}}); !reflect.DeepEqual(p.TaskProfile, want) {
		t.Errorf("profile %+v, want %+v", p.TaskProfile, want)
	}
	if p.WorkersPerTask != 20 || !reflect.DeepEqual(p.CurveOrders, []float64{1000, 1e6, 0}) {
		t.Errorf("workers per task %d, curve %v", p.WorkersPerTask, p.CurveOrders)
	}
	if got := fs.Lookup("task-profile").Value.String(); got != "2@20h,10@3h,40@1h" {
		t.Errorf("--task-profile reads %q", got)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--task-profile", "2@20h"}, `invalid value "2@20h" for flag -task-profile: the durations add up to 20h0m0s`},
		{[]string{"--curve", "1e6,lots"}, `invalid value "1e6,lots" for flag -curve: "lots": want a number of orders a month, 0 or more`},
		{[]string{"--curve", "-5"}, `flag -curve: "-5"`},
		{[]string{"--curve", "NaN"}, `flag -curve: "NaN"`},
		{[]string{"--curve", ""}, "flag -curve: empty"},
		{[]string{"--curve", strings.Repeat("1,", cost.MaxCurveOrders) + "1"}, "flag -curve: 51 volumes: at most 50"},
	} {
		q := cost.Defaults()
		fs := flag.NewFlagSet("cost", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		q.RegisterFlags(fs)
		if err := fs.Parse(tt.args); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}
