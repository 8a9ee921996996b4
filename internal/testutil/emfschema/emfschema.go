// Package emfschema validates CloudWatch Embedded Metric Format records in
// tests against our JSON schema of an EMF record (written from the rules of
// the published specification, in internal/emf/testdata/emf-schema.json)
// and against the rules a schema cannot express (emf.Validate). The two are
// independent readings of the specification. Tests only: the JSON-schema
// validator must never reach a Lambda bootstrap.
package emfschema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"flashsale/internal/emf"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	errLd  error
)

// SchemaID is the schema's $id.
const SchemaID = "https://flashsale.invalid/schemas/emf-record.json"

// Path is the schema file's path.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "emf", "testdata", "emf-schema.json")
}

func load() (*jsonschema.Schema, error) {
	once.Do(func() {
		f, err := os.Open(Path())
		if err != nil {
			errLd = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			errLd = err
			return
		}
		// The schema names its draft ($schema, 2020-12) and its $id.
		c := jsonschema.NewCompiler()
		if errLd = c.AddResource(SchemaID, doc); errLd != nil {
			return
		}
		schema, errLd = c.Compile(SchemaID)
	})
	return schema, errLd
}

// CheckSchema returns why line does not validate against our JSON schema
// alone, or nil.
func CheckSchema(line []byte) error {
	s, err := load()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(bytes.TrimRight(line, "\n")))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// Check returns why line, one log line, is not a valid EMF record (by our
// JSON schema, then by emf.Validate), or nil.
func Check(line []byte) error {
	if err := CheckSchema(line); err != nil {
		return err
	}
	return emf.Validate(bytes.TrimRight(line, "\n"))
}

// Validate fails the test when line is not a valid EMF record.
func Validate(t testing.TB, line []byte) {
	t.Helper()
	if err := Check(line); err != nil {
		t.Errorf("not a valid EMF record: %v\n%s", err, line)
	}
}

// Records returns the lines of out that are EMF records (JSON objects with
// an "_aws" member), each checked against the specification.
func Records(t testing.TB, out []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range bytes.Lines(out) {
		line = bytes.TrimSpace(line)
		if !bytes.HasPrefix(line, []byte("{")) || !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(line, &obj); err != nil || !emf.IsRecord(obj) {
			continue
		}
		Validate(t, line)
		recs = append(recs, obj)
	}
	return recs
}
