package core

import (
	"log/slog"
	"testing"

	jio "github.com/jocko/jocko/io"
)

// TestMetadataBeforeRun: the simulator asks a broker it has just launched
// for its metadata, possibly before Run has made the metadata node (a
// wiped broker rejoining: cluster-wipe seeds 13 and 24 panicked on the nil
// node). It gets an empty state and no controller.
func TestMetadataBeforeRun(t *testing.T) {
	b, err := NewBroker(Config{NodeID: 1, DataDir: t.TempDir()}, jio.Env{Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st, ctrl := b.Metadata()
	if st == nil || len(st.Topics) != 0 || ctrl != -1 {
		t.Fatalf("Metadata before Run: %v, controller %d; want an empty state and -1", st, ctrl)
	}
}
