package migrate

import (
	"errors"
	"fmt"
)

// Sentinel errors. Functions wrap them with the record, session or chunk
// they concern; test them with errors.Is.
var (
	// ErrMalformed: an encoded session or table does not decode.
	ErrMalformed = errors.New("migrate: malformed encoding")

	// ErrJournalFull: an append found too little free room in the ring. The
	// ring never overwrites; the record was not written.
	ErrJournalFull = errors.New("migrate: journal full")
	// ErrSealed: an append after Seal.
	ErrSealed = errors.New("migrate: journal sealed")
	// ErrRecordTooLarge: a payload longer than MaxPayload, or one that could
	// never fit the ring.
	ErrRecordTooLarge = errors.New("migrate: record too large")

	// ErrTornTail: the journal ends inside a record, as a write cut short
	// leaves it. The records before it are sound; see TornTailError.
	ErrTornTail = errors.New("migrate: torn tail")
	// ErrCorrupt: a complete record fails its checks (header or chained
	// CRC, reserved bytes, seal). Nothing of the journal may be replayed.
	ErrCorrupt = errors.New("migrate: journal corrupt")
	// ErrStaleEpoch: a record written in an older migration epoch than the
	// table it is replayed into.
	ErrStaleEpoch = errors.New("migrate: stale epoch")
	// ErrFutureEpoch: a record written in a newer migration epoch than the
	// table it is replayed into.
	ErrFutureEpoch = errors.New("migrate: record from a future epoch")
	// ErrSeqGap: a record whose sequence number is not the next one.
	ErrSeqGap = errors.New("migrate: sequence gap")
	// ErrBadRecord: a record that is sound as bytes but cannot apply to the
	// table (unknown session, a payload of the wrong size, a sequence number
	// outside the session's window).
	ErrBadRecord = errors.New("migrate: record does not apply")

	// ErrProtocol: the peer of a transfer sent a message that breaks the
	// chunk protocol.
	ErrProtocol = errors.New("migrate: transfer protocol error")
	// ErrStalled: a transfer made no progress through MaxRetries timeouts.
	ErrStalled = errors.New("migrate: transfer stalled")
	// ErrConnection: the connection of a transfer failed; call Resume with
	// a new one.
	ErrConnection = errors.New("migrate: transfer connection lost")
)

// TornTailError reports where a journal was cut: Offset is the first byte
// of the incomplete record, so the journal is sound up to there and may be
// truncated to Offset bytes.
type TornTailError struct {
	Offset int    // first byte of the torn record
	Seq    uint64 // sequence number of the last sound record (0 if none)
}

func (e *TornTailError) Error() string {
	return fmt.Sprintf("migrate: torn tail at byte %d after record %d", e.Offset, e.Seq)
}

// Unwrap makes errors.Is(err, ErrTornTail) true.
func (e *TornTailError) Unwrap() error { return ErrTornTail }

// Errors of the circuit and the migration.
var (
	// ErrConfig: a constructor argument out of range.
	ErrConfig = errors.New("migrate: bad configuration")
	// ErrMigration: a migration step failed (the destination refused or
	// failed, the source was not in the state the step needs).
	ErrMigration = errors.New("migrate: migration failed")
	// ErrInDoubt: the go-ahead was given and the destination's answer did
	// not come: the VM may run there or nowhere, and runs nowhere until
	// Circuit.Recover settles it.
	ErrInDoubt = errors.New("migrate: migration in doubt")
)
