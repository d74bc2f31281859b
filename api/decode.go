package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// Request limits.
const (
	maxBodyBytes   = 1 << 20  // any JSON request body
	maxParamsBytes = 64 << 10 // schedule params after compaction
	maxNameLen     = 128      // ids, handler and method names
)

// readBody reads the whole request body, at most maxBodyBytes. The bytes are
// kept so a request can be forwarded to the leader unchanged.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, invalid("body", fmt.Sprintf("request body exceeds %d bytes", maxBodyBytes))
	case err != nil:
		return nil, invalid("body", "reading the request body: "+err.Error())
	}
	return body, nil
}

// decodeStrict decodes exactly one JSON value from data into v, rejecting
// unknown fields. Errors are *apiError whose field is the JSON path of the
// offending value, prefixed with prefix ("" for the top level).
func decodeStrict(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, prefix)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid(fieldOr(prefix, "body"), "unexpected data after the JSON value")
	}
	return nil
}

// jsonError turns an encoding/json error into a field error.
func jsonError(err error, prefix string) *apiError {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return invalid(fieldOr(prefix, "body"), "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "malformed JSON: unexpected end of input")
	case errors.As(err, &syntaxErr):
		return invalid("body", fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error()))
	case errors.As(err, &typeErr):
		field := fieldOr(joinField(prefix, typeErr.Field), "body")
		return invalid(field, fmt.Sprintf("%s must be %s, not %s", field, describeType(typeErr.Type), typeErr.Value))
	}
	const unknownPrefix = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknownPrefix) {
		name, uerr := strconv.Unquote(strings.TrimPrefix(msg, unknownPrefix))
		if uerr != nil {
			name = strings.TrimPrefix(msg, unknownPrefix)
		}
		field := joinField(prefix, name)
		return invalid(fieldOr(field, "body"), fmt.Sprintf("unknown field %q", field))
	}
	return invalid(fieldOr(prefix, "body"), err.Error())
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return describeType(t.Elem())
	default:
		return "a " + t.Kind().String()
	}
}

func joinField(prefix, name string) string {
	switch {
	case prefix == "":
		return name
	case name == "":
		return prefix
	default:
		return prefix + "." + name
	}
}

func fieldOr(field, fallback string) string {
	if field == "" {
		return fallback
	}
	return field
}

// isNull reports whether a json.RawMessage is absent or the literal null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// validName checks an id, handler or method name: 1–128 characters of
// [A-Za-z0-9._-].
func validName(field, v string) error {
	if v == "" {
		return invalid(field, field+" is required")
	}
	if len(v) > maxNameLen {
		return invalid(field, fmt.Sprintf("%s must be at most %d characters", field, maxNameLen))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid(field, fmt.Sprintf("%s %q may only contain A-Z, a-z, 0-9, '.', '_' and '-'", field, v))
		}
	}
	return nil
}

// validID is validName plus the rule that an ID must be addressable as a URL
// path segment ("." and ".." are cleaned away by every HTTP stack).
func validID(field, v string) error {
	if v == "." || v == ".." {
		return invalid(field, fmt.Sprintf("%s must not be %q", field, v))
	}
	return validName(field, v)
}

// parseIfMatch reads the If-Match header as a schedule version (0 when absent
// or "*"). Quoted and weak forms ("3", W/"3") are accepted because the API
// sends the version as a quoted ETag.
func parseIfMatch(r *http.Request) (uint64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n == 0 {
		return 0, invalid("If-Match", fmt.Sprintf("If-Match %q must be a schedule version (a positive integer)", v))
	}
	return n, nil
}

// parseStale reads the ?stale= query parameter.
func parseStale(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("stale")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("stale", fmt.Sprintf("stale %q must be true, false, 1 or 0", v))
	}
	return b, nil
}
