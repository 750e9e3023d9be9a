package classify

import (
	"testing"
	"unsafe"
)

func TestCacheEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(cacheEntry{}); s != 64 {
		t.Fatalf("cacheEntry is %d bytes, want 64", s)
	}
}
