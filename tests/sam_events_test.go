package tests

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"flashsale/internal/testutil/samcli"
)

// freeForm are the keys whose values are maps of the sender's own keys
// (headers, attributes, claims...): their keys are data, not shape.
var freeForm = map[string]bool{
	"headers": true, "queryStringParameters": true, "pathParameters": true, "stageVariables": true,
	"claims": true, "MessageAttributes": true,
}

// keyPaths lists the JSON paths of v: object keys joined by dots, array
// elements as [] (the union over elements), free-form maps as leaves.
func keyPaths(v any, prefix string, into map[string]bool) map[string]bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			into[p] = true
			if !freeForm[k] {
				keyPaths(e, p, into)
			}
		}
	case []any:
		for _, e := range x {
			keyPaths(e, prefix+"[]", into)
		}
	}
	return into
}

func pathsOf(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return keyPaths(v, "", map[string]bool{})
}

// roundTrip decodes data strictly into a fresh value of T's type (unknown
// fields are errors) and encodes it again: the fields the Go type keeps.
func roundTrip[T any](data []byte) ([]byte, error) {
	var v T
	if err := decodeStrict(data, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// TestSAMGenerateEvent compares each file of events/ with what
// the SAM CLI itself generates for its kind (`sam local generate-event sns
// notification`, `... apigateway http-api-proxy`): every field SAM's event
// carries is in ours, and ours decodes into aws-lambda-go's event type as
// SAM's does, keeping the same fields.
func TestSAMGenerateEvent(t *testing.T) {
	sam := samcli.Bin(t, repoRoot)
	generate := map[string][]string{"api": {"apigateway", "http-api-proxy"}, "processor": {"sns", "notification"}}
	roundTrips := map[string]func([]byte) ([]byte, error){
		"api":       roundTrip[events.APIGatewayV2HTTPRequest],
		"processor": roundTrip[events.SNSEvent],
	}
	generated := map[string][]byte{}
	for kind, args := range generate {
		r := samcli.Run(t, sam, repoRoot, samTimeout, nil, append([]string{"local", "generate-event"}, args...)...)
		if r.Err != nil {
			t.Fatalf("sam local generate-event %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
		}
		generated[kind] = []byte(r.Stdout)
	}
	for _, name := range eventFiles(t) {
		kind := eventExpectations[name].fn
		t.Run(name, func(t *testing.T) {
			ours, theirs := readEvent(t, name), generated[kind]
			have := pathsOf(t, ours)
			var lacking []string
			for p := range pathsOf(t, theirs) {
				if !have[p] {
					lacking = append(lacking, p)
				}
			}
			if len(lacking) > 0 {
				slices.Sort(lacking)
				t.Errorf("fields of `sam local generate-event %s` missing from events/%s: %s", strings.Join(generate[kind], " "), name, strings.Join(lacking, ", "))
			}
			oursKept, err := roundTrips[kind](ours)
			if err != nil {
				t.Fatalf("events/%s does not decode: %v", name, err)
			}
			theirsKept, err := roundTrips[kind](theirs)
			if err != nil {
				t.Fatalf("SAM's own event does not decode: %v", err)
			}
			a, b := pathsOf(t, oursKept), pathsOf(t, theirsKept)
			var src map[string]any
			if err := json.Unmarshal(ours, &src); err != nil {
				t.Fatal(err)
			}
			// A field ours gives empty (a GET's body) is dropped by the
			// type's omitempty: the same decoding, not a difference.
			for p := range b {
				if !a[p] && isEmpty(get(src, strings.Split(p, ".")...)) {
					a[p] = true
				}
			}
			if !maps.Equal(a, b) {
				var diff []string
				for p := range a {
					if !b[p] {
						diff = append(diff, "+"+p)
					}
				}
				for p := range b {
					if !a[p] {
						diff = append(diff, "-"+p)
					}
				}
				slices.Sort(diff)
				t.Errorf("decoded, events/%s keeps other fields than SAM's event (+ ours only, - SAM's only): %s", name, strings.Join(diff, ", "))
			}
		})
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
