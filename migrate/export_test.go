package migrate

// SetNextSeq makes the next record carry seq, as a writer with a bug (or
// an attacker) could, to test that readers reject the gap.
func (j *Journal) SetNextSeq(seq uint64) { j.nextSeq = seq }

// SetRecords overwrites the record count the seal will carry.
func (j *Journal) SetRecords(n uint64) { j.records.Store(n) }
