// Package jsonconf is how ringkit's JSON configs report what is wrong with
// them: every error wraps the package's config sentinel and names the
// field and the line, so that a user can find the fault in the file.
package jsonconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Decode decodes data, one JSON object, into v strictly: unknown fields
// and anything after the object are errors. Errors wrap sentinel and name
// the field and line (see Error).
func Decode(data []byte, v any, sentinel error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Error(sentinel, data, 0, "", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: line %d: data after the top-level object", sentinel, Line(data, dec.InputOffset()))
	}
	return nil
}

// Error turns an encoding/json error met while decoding the value that
// starts at byte base of data into one wrapping sentinel that names the
// field (at, then the decoder's own path below it) and the line. at may be
// empty for the top level.
func Error(sentinel error, data []byte, base int64, at string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: %sline %d: %v", sentinel, prefix(at), Line(data, base+se.Offset), se)
	case errors.As(err, &te):
		f := join(at, te.Field)
		return fmt.Errorf("%w: %s (line %d): a JSON %s where %v is wanted", sentinel, f, Line(data, base+te.Offset), te.Value, te.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %sempty or truncated document", sentinel, prefix(at))
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("%w: %sunknown field %s (line %d)", sentinel, prefix(at), f, Line(data, base+fieldOffset(data[min(max(base, 0), int64(len(data))):], strings.Trim(f, `"`))))
	}
	// Errors of a field's own UnmarshalJSON (a duration) come from
	// encoding/json without the field's name: say what was wrong.
	return fmt.Errorf("%w: %s%v", sentinel, prefix(at), err)
}

// Line returns the 1-based line of byte offset off in data.
func Line(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// LineAfter returns the line of the first byte at or after off that is not
// white space, a comma or a colon: a decoder's offsets point before the
// token they name.
func LineAfter(data []byte, off int64) int {
	o := min(max(off, 0), int64(len(data)))
	for o < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[o]) >= 0 {
		o++
	}
	return Line(data, o)
}

// fieldOffset returns the offset in data of key's first occurrence as a
// JSON string, or 0.
func fieldOffset(data []byte, key string) int64 {
	if i := bytes.Index(data, []byte(`"`+key+`"`)); i >= 0 {
		return int64(i)
	}
	return 0
}

func join(at, field string) string {
	switch {
	case at == "" && field == "":
		return "(top level)"
	case at == "":
		return field
	case field == "":
		return at
	}
	return at + "." + field
}

func prefix(at string) string {
	if at == "" {
		return ""
	}
	return at + ": "
}
