package core

import (
	"errors"
	"testing"

	"github.com/jocko/jocko/wire"
)

// TestTxnBatchNeedsVerificationPerEpoch: a transactional batch joins an
// open transaction only at that transaction's epoch; the first batch of a
// transaction at a newer epoch (transaction.version 2 bumps it every
// transaction) needs the coordinator's verification even while the
// previous transaction's marker has not arrived, or that marker (an ABORT)
// would take the new batch along. The simulator found it (txn-cluster
// seed 2); without the epoch check the second append below succeeds.
func TestTxnBatchNeedsVerificationPerEpoch(t *testing.T) {
	r := newTxnRig(t)
	batch := func(epoch int16, seq int32, v string) ([]byte, []wire.BatchHeader) {
		raw, err := wire.AppendBatch(nil, wire.Batch{Attributes: 0x10, ProducerID: 7, ProducerEpoch: epoch, BaseSequence: seq,
			Records: []wire.Record{{Value: []byte(v)}}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := wire.ParseBatchHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		return raw, []wire.BatchHeader{h}
	}
	raw, hs := batch(3, 0, "a")
	if _, err := r.p.append(raw, hs); !errors.Is(err, errTxnState) {
		t.Fatalf("unverified first batch: %v, want %v", err, errTxnState)
	}
	if !r.p.needsVerify(7, 3) {
		t.Fatal("needsVerify(epoch 3) = false before any verification")
	}
	r.p.markVerified(7, 3)
	if _, err := r.p.append(raw, hs); err != nil {
		t.Fatalf("verified first batch: %v", err)
	}
	raw, hs = batch(3, 1, "b")
	if r.p.needsVerify(7, 3) {
		t.Fatal("needsVerify(epoch 3) = true inside the open transaction")
	}
	if _, err := r.p.append(raw, hs); err != nil {
		t.Fatalf("second batch of the open transaction: %v", err)
	}
	// The next transaction, at epoch 4, while epoch 3's marker is pending.
	raw, hs = batch(4, 0, "c")
	if !r.p.needsVerify(7, 4) {
		t.Fatal("needsVerify(epoch 4) = false while epoch 3's transaction is open")
	}
	if _, err := r.p.append(raw, hs); !errors.Is(err, errTxnState) {
		t.Fatalf("a newer epoch's batch joined the open transaction: %v", err)
	}
}
