package raftstore

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/spf13/afero"
	"pgregory.net/rapid"
)

// TestLogStoreMatchesModel drives the log store with random appends,
// overwrites, head and tail deletions and reopens, and compares it with
// a map after every step. After a reopen the store may serve older head
// entries again (they are identical to what was compacted), so the model
// only pins the entries it knows must be there.
func TestLogStoreMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fs := afero.NewMemMapFs()
		l, err := NewLogStore(fs, "/raft/log")
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { l.Close() }()
		l.segmentBytes = int64(rapid.IntRange(60, 600).Draw(rt, "segmentBytes"))
		model := map[uint64]*raft.Log{}
		var first, last, term uint64 = 0, 0, 1
		for step := range rapid.IntRange(1, 40).Draw(rt, "steps") {
			switch op := rapid.IntRange(0, 4).Draw(rt, "op"); {
			case op <= 1 || last == 0: // append (or overwrite from an index)
				from := last + 1
				if last == 0 {
					from = rapid.Uint64Range(1, 50).Draw(rt, "start")
				} else if op == 1 {
					from = rapid.Uint64Range(first, last+1).Draw(rt, "from")
					term++
				}
				n := rapid.Uint64Range(1, 8).Draw(rt, "n")
				if err := l.StoreLogs(testLogs(from, from+n-1, term)); err != nil {
					rt.Fatalf("step %d: StoreLogs(%d..%d): %v", step, from, from+n-1, err)
				}
				for i := from; i <= last; i++ {
					delete(model, i)
				}
				for i := from; i < from+n; i++ {
					model[i] = testLog(i, term)
				}
				if first == 0 {
					first = from
				}
				last = from + n - 1
			case op == 2: // head compaction
				upto := rapid.Uint64Range(first, last).Draw(rt, "upto")
				if err := l.DeleteRange(first, upto); err != nil {
					rt.Fatalf("step %d: DeleteRange(%d, %d): %v", step, first, upto, err)
				}
				first = upto + 1
				if upto == last {
					first, last = 0, 0
				}
			case op == 3: // tail truncation
				from := rapid.Uint64Range(first, last).Draw(rt, "from")
				if err := l.DeleteRange(from, last); err != nil {
					rt.Fatalf("step %d: DeleteRange(%d, %d): %v", step, from, last, err)
				}
				last = from - 1
				if from == first {
					first, last = 0, 0
				}
			case op == 4: // crash-free restart
				l.Close()
				if l, err = NewLogStore(fs, "/raft/log"); err != nil {
					rt.Fatalf("step %d: reopen: %v", step, err)
				}
				l.segmentBytes = 200
				if f, _ := l.FirstIndex(); f < first && f != 0 {
					first = f // compacted head entries resurfaced
				}
			}
			checkModel(rt, l, model, first, last)
		}
	})
}

func checkModel(rt *rapid.T, l *LogStore, model map[uint64]*raft.Log, first, last uint64) {
	f, _ := l.FirstIndex()
	z, _ := l.LastIndex()
	if f != first || z != last {
		rt.Fatalf("store range [%d, %d], model [%d, %d]", f, z, first, last)
	}
	for i := first; i <= last && last != 0; i++ {
		var got raft.Log
		if err := l.GetLog(i, &got); err != nil {
			rt.Fatalf("GetLog(%d): %v", i, err)
		}
		if want := model[i]; want == nil || !sameLog(&got, want) {
			rt.Fatalf("GetLog(%d) = %+v, model has %+v", i, got, want)
		}
	}
}
