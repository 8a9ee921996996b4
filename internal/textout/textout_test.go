package textout_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"flashsale/internal/textout"
)

var errBroken = errors.New("broken pipe")

// failAfter accepts n writes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBroken
	}
	f.n--
	return len(p), nil
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := textout.WriteJSON(&b, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "{\n  \"a\": 1\n}\n"; got != want {
		t.Errorf("WriteJSON wrote %q, want %q", got, want)
	}
	if err := textout.WriteJSON(&failAfter{}, 1); !errors.Is(err, errBroken) {
		t.Errorf("WriteJSON to a failing writer: %v, want %v", err, errBroken)
	}
	if err := textout.WriteJSON(&b, func() {}); err == nil {
		t.Error("WriteJSON of a func succeeded")
	}
}

func TestErrWriterKeepsFirstError(t *testing.T) {
	fw := &failAfter{n: 1}
	ew := &textout.ErrWriter{W: fw}
	fmt.Fprint(ew, "ok")
	if ew.Err != nil {
		t.Fatalf("first write failed: %v", ew.Err)
	}
	fmt.Fprint(ew, "fails")
	fw.n = 10 // the writer would work again; ErrWriter must not try
	if n, err := ew.Write([]byte("x")); n != 0 || !errors.Is(err, errBroken) || !errors.Is(ew.Err, errBroken) {
		t.Errorf("after a failure: Write = %d, %v; Err = %v; want 0 and %v", n, err, ew.Err, errBroken)
	}
	if fw.n != 10 {
		t.Error("ErrWriter wrote after a failure")
	}
}
