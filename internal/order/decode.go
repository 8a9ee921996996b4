package order

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMalformed is wrapped by every decoding error that is not a broken rule
// of the contract: bad JSON, a wrong type, an unknown field, trailing data.
var ErrMalformed = errors.New("malformed order")

// DecodeRequest reads exactly one JSON request object from r, strictly:
// unknown fields and trailing data are errors. It validates the request.
// Errors wrap ErrMalformed or are a *ValidationError; both name the field
// where they can.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	if err := decodeStrict(r, &req); err != nil {
		return Request{}, err
	}
	if err := req.Validate(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// Unmarshal decodes an order as published to a queue (the JSON of Order)
// and validates it. Unknown fields are rejected so that a foreign message is
// never mistaken for an order.
func Unmarshal(data []byte) (Order, error) {
	var o Order
	if err := decodeStrict(bytes.NewReader(data), &o); err != nil {
		return Order{}, err
	}
	if err := o.Validate(); err != nil {
		return Order{}, err
	}
	return o, nil
}

// Marshal encodes an order as it is published to a queue.
func Marshal(o Order) ([]byte, error) {
	return json.Marshal(o)
}

func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformed(err)
	}
	_, err := dec.Token()
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil, errors.As(err, &syntax):
		// Read the rest: a body over the size limit is too large, whatever
		// it holds after the object (r is bounded by the caller).
		if _, rerr := io.Copy(io.Discard, r); rerr != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, rerr)
		}
		return &DecodeError{Message: "unexpected data after the JSON object"}
	default:
		// The reader failed while looking past the object: a body over
		// the size limit (its trailing bytes count too), a broken
		// connection. It keeps its identity, as in malformed.
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
}

// DecodeError is a malformed body. It wraps ErrMalformed; Field names the
// JSON field when the fault is in one.
type DecodeError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "malformed JSON: " + e.Message
	}
	return "malformed JSON: " + e.Field + ": " + e.Message
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &DecodeError{Message: "empty body"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{Message: "unexpected end of JSON"}
	case errors.As(err, &syntax):
		return &DecodeError{Message: fmt.Sprintf("syntax error at byte %d: %v", syntax.Offset, syntax)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &DecodeError{Message: fmt.Sprintf("expected a JSON object, got %s", typ.Value)}
		}
		return &DecodeError{Field: jsonPath(field), Message: fmt.Sprintf("expected %s, got %s", kindName(typ.Type.Kind().String()), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &DecodeError{Field: name, Message: "unknown field"}
	}
	// Reader errors (a body over the size limit, a broken connection) keep
	// their identity so that callers can tell them apart.
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

// jsonPath is encoding/json's dotted field path ("items.quantity"); the
// decoder does not report array indexes, so the path names the field only.
func jsonPath(field string) string { return field }

func kindName(kind string) string {
	switch kind {
	case "int", "int64", "int32":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct":
		return "an object"
	}
	return kind
}
