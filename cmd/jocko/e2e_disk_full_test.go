package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jocko/jocko/wire"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// smallFS mounts a tmpfs of size bytes on a new directory and returns it;
// it skips the test where that is not allowed.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs (needs root): %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// filler writes a file of n random bytes (tmpfs holds them in full).
func filler(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestE2EDiskFull: on a 32 MiB file system, produce is refused with
// KAFKA_STORAGE_ERROR (naming the setting) once free space falls under
// log.disk.free.min.bytes, fetch keeps working, and produce resumes by
// itself when space returns. With the reserve turned off (dynamically), a
// write meets ENOSPC: the produce fails with KAFKA_STORAGE_ERROR, the
// partition stays online, and produce resumes, without a restart, once
// space returns. Every acknowledged record reads back exactly, before and
// after a kill -9.
func TestE2EDiskFull(t *testing.T) {
	t.Parallel()
	fsDir := smallFS(t, "32m")
	filler(t, filepath.Join(fsDir, "filler1"), 10<<20)
	filler(t, filepath.Join(fsDir, "filler2"), 6<<20)
	b := startBroker(t, filepath.Join(fsDir, "data"), "--log.disk.free.min.bytes", "8388608")
	ctx := testCtx(t)
	adm := b.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "full"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, b.addr)
	rng := rand.New(rand.NewSource(1))
	var acked [][]byte // every acknowledged value, in offset order
	next := int64(0)
	// produce sends one batch of 32 random 1 KiB records and returns the
	// partition's error code and message.
	produce := func() (int16, string) {
		t.Helper()
		now := time.Now().UnixMilli()
		batch := wire.Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, FirstTimestamp: now, MaxTimestamp: now}
		var vals [][]byte
		for range 32 {
			v := make([]byte, 1024)
			rng.Read(v)
			vals = append(vals, v)
			batch.Records = append(batch.Records, wire.Record{Value: v})
		}
		raw, err := wire.AppendBatch(nil, batch)
		if err != nil {
			t.Fatal(err)
		}
		code, base, msg := produceRawMsg(t, r, 9, "full", [16]byte{}, raw)
		if code == 0 {
			if base != next {
				t.Fatalf("batch acknowledged at offset %d, want %d", base, next)
			}
			acked = append(acked, vals...)
			next += int64(len(vals))
		}
		return code, msg
	}
	// fillUntilRefused produces until a produce fails, which must be
	// KAFKA_STORAGE_ERROR with a message containing want.
	fillUntilRefused := func(label, want string) {
		t.Helper()
		for i := 0; ; i++ {
			if i > 2000 {
				t.Fatalf("%s: 64 MiB produced into a 32 MiB file system without a refusal", label)
			}
			code, msg := produce()
			if code == 0 {
				continue
			}
			if code != kerr.KafkaStorageError.Code || !strings.Contains(msg, want) {
				t.Fatalf("%s: error %v %q, want KAFKA_STORAGE_ERROR mentioning %q", label, kerr.ErrorForCode(code), msg, want)
			}
			return
		}
	}
	// resumes waits until a produce succeeds again.
	resumes := func(label string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, msg := produce()
			if code == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: produce still refused 30 s after space returned: %v %q\n%s", label, kerr.ErrorForCode(code), msg, b.logText())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	check := func(label string) {
		t.Helper()
		got := consumeAll(t, b, "full", len(acked))
		if len(got) != len(acked) {
			t.Fatalf("%s: read %d records, %d acknowledged", label, len(got), len(acked))
		}
		for i, rec := range got {
			if rec.Offset != int64(i) || !bytes.Equal(rec.Value, acked[i]) {
				t.Fatalf("%s: record %d (offset %d) differs from what was acknowledged", label, i, rec.Offset)
			}
		}
	}

	// logSays waits for a line of the broker's log (read asynchronously).
	logSays := func(what string) {
		t.Helper()
		waitUntil(t, ctx, func() bool { return strings.Contains(b.logText(), what) })
	}
	fillUntilRefused("reserve", "log.disk.free.min.bytes")
	logSays("refusing produce: disk space low")
	check("while refused") // fetch keeps working
	os.Remove(filepath.Join(fsDir, "filler1"))
	resumes("after freeing 10 MiB")
	logSays("disk space recovered: accepting produce again")
	fillUntilRefused("reserve again", "log.disk.free.min.bytes")

	// Without the reserve the disk itself fills up: ENOSPC.
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "log.disk.free.min.bytes", Value: kadm.StringPtr("0")}})
	if err != nil || len(rs) != 1 || rs[0].Err != nil {
		t.Fatalf("turning the reserve off: %v %+v", err, rs)
	}
	fillUntilRefused("ENOSPC", "no space left")
	check("after ENOSPC")
	os.Remove(filepath.Join(fsDir, "filler2"))
	resumes("after ENOSPC and freeing 6 MiB") // the partition stayed online
	check("after recovering from ENOSPC")
	b.kill9()
	b.restart()
	check("after kill -9")
}

// TestE2EDiskFullKcatDefaults: the new user, with no settings:
// kcat (librdkafka) produces with acks=all into a broker on a 32 MiB file
// system. The default reserve shrinks to a twentieth of so small a file
// system, so produce works; once the disk is nearly full, kcat's records
// are refused (delivery fails with the broker's reason, nothing hangs);
// once space returns, kcat produces again without a broker restart, and
// every line kcat delivered reads back exactly.
func TestE2EDiskFullKcatDefaults(t *testing.T) {
	t.Parallel()
	kcat := needKcat(t)
	fsDir := smallFS(t, "32m")
	b := startBroker(t, filepath.Join(fsDir, "data"))
	ctx := testCtx(t)
	rng := rand.New(rand.NewSource(2))
	var delivered []string
	// produce sends n lines of about 1 KiB through kcat and reports whether
	// every one was delivered, with kcat's output.
	produce := func(n int) (bool, string) {
		t.Helper()
		var lines []string
		for range n {
			v := make([]byte, 768)
			rng.Read(v)
			lines = append(lines, fmt.Sprintf("%x", v)[:1024])
		}
		cmd := exec.CommandContext(ctx, kcat, "-P", "-b", b.addr, "-t", "small", "-X", "acks=all",
			"-X", "enable.idempotence=true", "-X", "message.timeout.ms=5000")
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		if err == nil {
			delivered = append(delivered, lines...)
		}
		return err == nil, string(out)
	}
	if ok, out := produce(4000); !ok {
		t.Fatalf("4 MiB into an empty 32 MiB file system with the default reserve: kcat failed:\n%s\n%s", out, b.logText())
	}
	// Leave about 1 MiB free: under the reserve (1.6 MiB here).
	used, total := diskUsed(t, fsDir)
	filler(t, filepath.Join(fsDir, "filler"), int(total-used-(1<<20)))
	if ok, out := produce(100); ok {
		t.Fatalf("kcat delivered into a file system with 1 MiB free, under the reserve:\n%s", out)
	}
	waitUntil(t, ctx, func() bool { return strings.Contains(b.logText(), "refusing produce: disk space low") })
	os.Remove(filepath.Join(fsDir, "filler"))
	if ok, out := produce(100); !ok {
		t.Fatalf("kcat after space returned: %v\n%s", out, b.logText())
	}
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", b.addr, "-t", "small", "-o", "beginning", "-e", "-f", "%s\n").Output()
	if err != nil {
		t.Fatalf("kcat consume: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(delivered, "\n") {
		t.Fatalf("kcat read back %d lines, %d were delivered (or they differ)", len(got), len(delivered))
	}
}
