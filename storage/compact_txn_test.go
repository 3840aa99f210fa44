package storage

import (
	"fmt"
	"testing"

	"github.com/spf13/afero"

	"github.com/jocko/jocko/wire"
)

// TestCompactTransactions: compaction leaves an open transaction's
// segments alone (its record must not shadow the committed value of its
// key: the transaction may abort), drops an aborted transaction's records
// without letting them shadow anything, and treats a committed one's as
// any record. Without the transaction rules the plain value of k is gone
// after the first Compact and the aborted value is what is left.
func TestCompactTransactions(t *testing.T) {
	clk := newMock()
	cfg := smallConfig()
	l := openT(t, afero.NewMemMapFs(), cfg, clk)
	defer l.Close()
	roll := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.roll(); err != nil {
			t.Fatal(err)
		}
	}
	txnKV := func(pid int64, key, value string) []byte {
		b, err := wire.AppendBatch(nil, wire.Batch{Attributes: attrTransactional, ProducerID: pid, BaseSequence: 0,
			FirstTimestamp: 1000, MaxTimestamp: 1000, Records: []wire.Record{{Key: []byte(key), Value: []byte(value)}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	values := func() string {
		got, _ := logRecords(t, l)
		var out []string
		for _, r := range got {
			out = append(out, fmt.Sprintf("%d:%q", r.off, r.key))
		}
		return fmt.Sprint(out)
	}
	appendT(t, l, keyedBatch(t, 1000, wire.CodecNone, []kv{{[]byte("k"), []byte("plain")}})) // 0
	roll()
	appendT(t, l, txnKV(5, "k", "aborted")) // 1, open
	roll()
	appendT(t, l, keyedBatch(t, 1000, wire.CodecNone, []kv{{[]byte("x"), []byte("x")}})) // 2
	roll()
	if _, err := l.Compact(CompactConfig{}); err != nil {
		t.Fatal(err)
	}
	if got, want := values(), `[0:"k" 1:"k" 2:"x"]`; got != want {
		t.Fatalf("with the transaction open: %s, want %s", got, want)
	}
	appendT(t, l, marker(5, true)) // 3: ABORT
	roll()
	appendT(t, l, txnKV(6, "x", "committed")) // 4
	appendT(t, l, marker(6, false))           // 5: COMMIT
	roll()
	appendT(t, l, keyedBatch(t, 1000, wire.CodecNone, []kv{{[]byte("y"), []byte("y")}})) // 6, active
	if _, err := l.Compact(CompactConfig{}); err != nil {
		t.Fatal(err)
	}
	// 0 survives (the aborted 1 shadows nothing); 1 goes (its producer's
	// last batch keeps an empty shell, no record); 2 is shadowed by the
	// committed 4; the markers (3, 5) stay.
	if got, want := values(), `[0:"k" 3:"\x00\x00\x00\x00" 4:"x" 5:"\x00\x00\x00\x01" 6:"y"]`; got != want {
		t.Fatalf("after the ABORT and a COMMIT: %s, want %s", got, want)
	}
}
