package jsonconf

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var errBad = errors.New("bad config")

type dur time.Duration

func (d *dur) UnmarshalJSON(b []byte) error {
	v, err := time.ParseDuration(strings.Trim(string(b), `"`))
	*d = dur(v)
	return err
}

type doc struct {
	Name  string `json:"name"`
	Ports []struct {
		Rate int `json:"rate"`
		Q    dur `json:"quantum"`
	} `json:"ports"`
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string
	}{
		{"syntax", "{\n\"name\": \"a\",\n\"ports\": [}\n", []string{"line 3", "invalid character"}},
		{"type", "{\n\"name\": \"a\",\n\"ports\": [{\"rate\": \"fast\"}]\n}", []string{"ports.rate", "line 3", "a JSON string where int is wanted"}},
		{"unknown", "{\n\"name\": \"a\",\n\"colour\": 1\n}", []string{`unknown field "colour"`, "line 3"}},
		{"trailing", "{\"name\": \"a\"}\n{}", []string{"line 2", "data after the top-level object"}},
		{"empty", "", []string{"empty or truncated"}},
		{"truncated", "{\"name\": ", []string{"truncated"}},
		{"own unmarshaler", `{"ports": [{"quantum": "soon"}]}`, []string{"soon"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(c.in), &d, errBad)
			if !errors.Is(err, errBad) {
				t.Fatalf("Decode = %v, want an error wrapping the sentinel", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	var d doc
	if err := Decode([]byte(`{"name": "ok", "ports": [{"rate": 3, "quantum": "1ms"}]}`), &d, errBad); err != nil || d.Ports[0].Rate != 3 {
		t.Fatalf("a good document: %v, %+v", err, d)
	}
}

func TestLines(t *testing.T) {
	data := []byte("a\nb\n  ,  c")
	if Line(data, 0) != 1 || Line(data, 2) != 2 || Line(data, 100) != 3 || Line(data, -5) != 1 {
		t.Error("Line")
	}
	if LineAfter(data, 3) != 3 {
		t.Errorf("LineAfter(3) = %d, want 3 (past the newline and the comma)", LineAfter(data, 3))
	}
}
