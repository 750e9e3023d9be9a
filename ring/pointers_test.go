package ring_test

import (
	"testing"
	"unsafe"

	"github.com/ringkit/ringkit/ring"
)

func TestHasPointers(t *testing.T) {
	type flat struct {
		A int32
		B [4]uint64
		C struct{ D float64 }
	}
	type withString struct {
		A int
		S string
	}
	type deep struct {
		A [2]struct{ P *int }
	}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"int", ring.HasPointers[int](), false},
		{"uint64", ring.HasPointers[uint64](), false},
		{"complex128", ring.HasPointers[complex128](), false},
		{"flat struct", ring.HasPointers[flat](), false},
		{"[0]*int", ring.HasPointers[[0]*int](), false},
		{"*int", ring.HasPointers[*int](), true},
		{"string", ring.HasPointers[string](), true},
		{"[]byte", ring.HasPointers[[]byte](), true},
		{"map", ring.HasPointers[map[int]int](), true},
		{"chan", ring.HasPointers[chan int](), true},
		{"func", ring.HasPointers[func()](), true},
		{"any", ring.HasPointers[any](), true},
		{"error", ring.HasPointers[error](), true},
		{"unsafe.Pointer", ring.HasPointers[unsafe.Pointer](), true},
		{"struct with string", ring.HasPointers[withString](), true},
		{"array of struct with pointer", ring.HasPointers[deep](), true},
	} {
		if tc.got != tc.want {
			t.Errorf("HasPointers[%s]() = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
