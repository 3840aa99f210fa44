package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// logFilesSize sums the sizes of a partition directory's segment files.
func logFilesSize(t *testing.T, dir string) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// TestE2EDescribeLogDirs (KIP-113, DescribeLogDirs v4 through kadm): the
// broker's data directory with each partition's size (what its segment
// files hold), offset lag 0, not a future replica, and the volume's total
// and usable bytes; `jocko topic describe` shows the sizes, in its table
// and in JSON.
func TestE2EDescribeLogDirs(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "dirs"); err != nil {
		t.Fatal(err)
	}
	cl := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 50 {
		r := &kgo.Record{Topic: "dirs", Partition: 1, Value: []byte(strings.Repeat("v", 100) + strconv.Itoa(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	id := brokerID(t, b)
	dirs, err := adm.DescribeBrokerLogDirs(ctx, id, kadm.TopicsSet{"dirs": {0: {}, 1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) != 1 {
		t.Fatalf("%d log directories, want 1: %+v", len(dirs), dirs)
	}
	for name, d := range dirs {
		if name != b.dataDir || d.Err != nil {
			t.Fatalf("log directory %q (%v), want %q", name, d.Err, b.dataDir)
		}
		if d.TotalBytes <= 0 || d.UsableBytes <= 0 || d.UsableBytes > d.TotalBytes {
			t.Fatalf("volume total %d usable %d", d.TotalBytes, d.UsableBytes)
		}
	}
	p0, ok0 := dirs.LookupPartition("dirs", 0)
	p1, ok1 := dirs.LookupPartition("dirs", 1)
	want := logFilesSize(t, filepath.Join(b.dataDir, "dirs-1"))
	if !ok0 || !ok1 || p0.Size != 0 || p1.Size != want || want < 50 || p1.OffsetLag != 0 || p1.IsFuture {
		t.Fatalf("partition 0 %+v (%v), partition 1 %+v (%v); want sizes 0 and %d", p0, ok0, p1, ok1, want)
	}
	br := "--brokers=" + b.addr
	var d topicDescription
	wantJSON(t, &d, "topic", "describe", "dirs", br, "--format", "json")
	if len(d.Partitions) != 2 || d.Partitions[0].Size != 0 || d.Partitions[1].Size != want || d.Partitions[1].ReplicaSizes[id] != want {
		t.Fatalf("topic describe --format json: partitions %+v, want partition 1 of %d bytes", d.Partitions, want)
	}
	out, _ := wantRun(t, 0, "", "topic", "describe", "dirs", br)
	if !regexp.MustCompile(`(?m)^1\s.*\s`+strconv.FormatInt(want, 10)+`\s*$`).MatchString(out) || !strings.Contains(out, "SIZE") {
		t.Fatalf("topic describe: no SIZE %d for partition 1:\n%s", want, out)
	}
}
