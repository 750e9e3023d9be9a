package jobring_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

type sealJob struct {
	Data  []byte
	Nonce [12]byte
}

type sealRes struct {
	Sealed []byte
	CRC    uint32
}

func gcm(t testing.TB) cipher.AEAD {
	blk, err := aes.NewCipher(bytes.Repeat([]byte{7}, 16))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestCoprocessorModel: a co-processor takes its jobs in batches, each
// batch lasting at least its setup latency plus its cost per byte, and
// does real work whose results check out (AES-GCM seals that open, CRC32C
// sums that match), next to cores doing the same kinds.
func TestCoprocessorModel(t *testing.T) {
	const (
		setup   = 2 * time.Millisecond
		perByte = 100.0 // ns
		size    = 1000
		n       = 24
	)
	const kSeal, kCRC jobring.Kind = 0, 1
	mk := func() jobring.Func[sealJob, sealRes] {
		aead := gcm(t)
		return func(_ context.Context, k jobring.Kind, j *sealJob, r *sealRes) error {
			switch k {
			case kSeal:
				r.Sealed = aead.Seal(nil, j.Nonce[:], j.Data, nil)
			case kCRC:
				r.CRC = crc32.Checksum(j.Data, castagnoli)
			}
			return nil
		}
	}
	r, err := jobring.New(jobring.Config[sealJob, sealRes]{
		Slots: 64,
		Workers: []jobring.Worker[sealJob, sealRes]{
			{Name: "accel", Class: jobring.Coprocessor, Kinds: jobring.Kinds(kSeal), Batch: 8, Setup: setup, NsPerByte: perByte,
				Size: func(_ jobring.Kind, j *sealJob) int { return len(j.Data) }, Do: mk()},
			{Name: "core", Class: jobring.Core, Kinds: jobring.Kinds(kCRC), Do: mk()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ts := make([]jobring.Task[sealJob], n)
	for i := range ts {
		ts[i] = jobring.Task[sealJob]{Kind: jobring.Kind(i % 2), Job: sealJob{Data: bytes.Repeat([]byte{byte(i)}, size)}}
		binary.LittleEndian.PutUint32(ts[i].Job.Nonce[:], uint32(i))
	}
	if _, k := r.SubmitBurst(ts); k != n {
		t.Fatalf("submitted %d of %d", k, n)
	}
	aead := gcm(t)
	cs := make([]jobring.Completion[sealJob, sealRes], n)
	for got := 0; got < n; {
		k, err := r.RetireWait(t.Context(), cs[got:])
		if err != nil {
			t.Fatal(err)
		}
		got += k
	}
	for i, c := range cs {
		if c.Seq != uint64(i) || c.Err != nil {
			t.Fatalf("completion %d: seq %d err %v", i, c.Seq, c.Err)
		}
		switch c.Kind {
		case kSeal:
			plain, err := aead.Open(nil, c.Job.Nonce[:], c.Result.Sealed, nil)
			if err != nil || !bytes.Equal(plain, c.Job.Data) || c.Worker != 0 {
				t.Errorf("seq %d: seal by worker %d does not open to its job: %v", i, c.Worker, err)
			}
		case kCRC:
			if c.Result.CRC != crc32.Checksum(c.Job.Data, castagnoli) || c.Worker != 1 {
				t.Errorf("seq %d: crc %08x by worker %d", i, c.Result.CRC, c.Worker)
			}
		}
	}
	st := r.Stats().Workers[0]
	minBusy := time.Duration(st.Batches)*setup + time.Duration(float64(st.Jobs*size)*perByte)
	if st.Jobs != n/2 || st.Busy < minBusy {
		t.Errorf("accel: %d jobs in %d batches busy %v; want %d jobs and at least %v (setup per batch + cost per byte)",
			st.Jobs, st.Batches, st.Busy, n/2, minBusy)
	}
	if st.MaxBatch > 8 {
		t.Errorf("accel claimed a batch of %d, more than its Batch of 8", st.MaxBatch)
	}
}
