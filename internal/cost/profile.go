package cost

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TaskSpan is one part of a day of the worker service: Tasks Fargate tasks
// running for Hours hours.
type TaskSpan struct {
	Tasks int     `json:"tasks"`
	Hours float64 `json:"hours"` // see Tasks
}

// Profile is the worker service's tasks over a day, as auto scaling moves
// them: its spans cover the 24 hours of the day exactly, in any order (only
// the task-hours are billed). Every day of the month repeats it.
//
// Its text form, what ParseProfile reads and String writes, is a
// comma-separated list of TASKS@DURATION, the durations as Go writes them
// (20h, 90m, 1h30m): "2@20h,10@3h,40@1h" is 2 tasks for 20 hours, 10 for
// 3 and 40 for 1. One item may omit its @DURATION and take the rest of the
// day: "40@1h,10@3h,2" is the same day.
type Profile []TaskSpan

// MinSpan is the shortest span of a profile: Fargate bills a task by the
// second with a minimum of one minute, so shorter spans would be
// underpriced.
const MinSpan = time.Minute

// ProfileExample is a profile as help texts show it.
const ProfileExample = "2@20h,10@3h,40@1h"

// ParseProfile reads a profile's text form (see Profile).
func ParseProfile(s string) (Profile, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty: give TASKS@DURATION items covering a day, such as %s", ProfileExample)
	}
	var (
		prof  Profile
		total time.Duration // of the items with a duration
		rest  = -1          // the item without one
	)
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("item %d is empty (items are TASKS@DURATION, comma-separated, such as %s)", i+1, ProfileExample)
		}
		tasksText, durText, hasDur := strings.Cut(part, "@")
		tasks, err := strconv.Atoi(strings.TrimSpace(tasksText))
		if err != nil || tasks < 0 {
			return nil, fmt.Errorf("%q: tasks %q must be a whole number, 0 or more", part, strings.TrimSpace(tasksText))
		}
		if !hasDur {
			if rest >= 0 {
				return nil, fmt.Errorf("%q: only one item may omit its @DURATION (it takes the rest of the day)", part)
			}
			rest = len(prof)
			prof = append(prof, TaskSpan{Tasks: tasks})
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(durText))
		if err != nil {
			return nil, fmt.Errorf("%q: duration %q: want a duration such as 20h, 90m or 1h30m", part, strings.TrimSpace(durText))
		}
		if d < MinSpan || d > 24*time.Hour {
			return nil, fmt.Errorf("%q: duration %v must be at least %v (Fargate bills a task at least a minute) and at most 24h", part, d, MinSpan)
		}
		total += d
		if total > 24*time.Hour {
			return nil, fmt.Errorf("the durations add up to %v by %q: a profile is one day, 24h", total, part)
		}
		prof = append(prof, TaskSpan{Tasks: tasks, Hours: d.Hours()})
	}
	if rest >= 0 {
		left := 24*time.Hour - total
		if left < MinSpan {
			return nil, fmt.Errorf("the durations add up to %v, which leaves %v for the item without a duration (%s): it needs at least %v", total, left, plural(float64(prof[rest].Tasks), "task"), MinSpan)
		}
		prof[rest].Hours = left.Hours()
	} else if total != 24*time.Hour {
		return nil, fmt.Errorf("the durations add up to %v: a profile covers a day, 24h (or leave one item's @DURATION out: it takes the rest of the day)", total)
	}
	if prof.Peak() == 0 {
		return nil, errors.New("no task at any hour: the service would pay no order")
	}
	return prof, nil
}

// String is the profile's text form, every span with its duration: ""
// for none.
func (p Profile) String() string {
	parts := make([]string, len(p))
	for i, s := range p {
		parts[i] = strconv.Itoa(s.Tasks) + "@" + hoursText(s.Hours)
	}
	return strings.Join(parts, ",")
}

// hoursText writes hours as a duration to the second that ParseDuration
// reads back, without its zero parts: 20h, 1h30m, 15m, 1m30s.
func hoursText(h float64) string {
	if math.IsNaN(h) || math.IsInf(h, 0) || math.Abs(h) > 1e6 {
		return strconv.FormatFloat(h, 'g', -1, 64) + "h"
	}
	secs := int64(math.Round(h * 3600))
	if secs == 0 {
		return "0s"
	}
	var b strings.Builder
	if secs < 0 {
		b.WriteByte('-')
		secs = -secs
	}
	for _, u := range []struct {
		secs int64
		unit string
	}{{3600, "h"}, {60, "m"}, {1, "s"}} {
		if n := secs / u.secs; n > 0 {
			b.WriteString(strconv.FormatInt(n, 10) + u.unit)
			secs -= n * u.secs
		}
	}
	return b.String()
}

// Set parses s into p (flag.Value).
func (p *Profile) Set(s string) error {
	prof, err := ParseProfile(s)
	if err != nil {
		return err
	}
	*p = prof
	return nil
}

// TaskHoursPerDay is the task-hours of the profile's day.
func (p Profile) TaskHoursPerDay() float64 {
	var th float64
	for _, s := range p {
		th += float64(s.Tasks) * s.Hours
	}
	return th
}

// AverageTasks is the tasks running on average over the day.
func (p Profile) AverageTasks() float64 { return p.TaskHoursPerDay() / 24 }

// Peak is the most tasks of the day.
func (p Profile) Peak() int {
	peak := 0
	for _, s := range p {
		peak = max(peak, s.Tasks)
	}
	return peak
}

// validate reports what is wrong with a profile built by hand rather than
// by ParseProfile.
func (p Profile) validate() error {
	var hours float64
	for _, s := range p {
		if s.Tasks < 0 || math.IsNaN(s.Hours) || math.IsInf(s.Hours, 0) || s.Hours < MinSpan.Hours() {
			return fmt.Errorf("task profile %s (--task-profile): span %d@%s must have 0 tasks or more for at least %v", p, s.Tasks, hoursText(s.Hours), MinSpan)
		}
		hours += s.Hours
	}
	if math.Abs(hours-24) > 1e-9 {
		return fmt.Errorf("task profile %s (--task-profile): covers %s of a day, must cover 24h", p, hoursText(hours))
	}
	if p.Peak() == 0 {
		return fmt.Errorf("task profile %s (--task-profile): no task at any hour", p)
	}
	return nil
}
