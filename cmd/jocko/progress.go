package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar draws, on a terminal, how much of an input file was read and
// how many records were settled, redrawn every progressInterval on one
// line; other lines are printed above it.
type progressBar struct {
	out     io.Writer
	total   int64         // input size in bytes
	read    *atomic.Int64 // input bytes read so far
	records *atomic.Int64 // records settled so far

	mu   sync.Mutex
	stop chan struct{}
	done chan struct{}
}

const (
	progressInterval = 100 * time.Millisecond
	progressWidth    = 30 // characters of the bar itself
)

// isTerminal reports whether w is a character device such as a terminal
// (a pipe, a file or a buffer is not).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newProgressBar(out io.Writer, total int64, read, records *atomic.Int64) *progressBar {
	return &progressBar{out: out, total: total, read: read, records: records, stop: make(chan struct{}), done: make(chan struct{})}
}

// run redraws the bar until finish.
func (b *progressBar) run() {
	defer close(b.done)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		b.mu.Lock()
		b.draw()
		b.mu.Unlock()
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
	}
}

// draw writes the bar over the current line; b.mu is held.
func (b *progressBar) draw() {
	read := min(b.read.Load(), b.total)
	filled := int(read * progressWidth / b.total)
	fmt.Fprintf(b.out, "\r\x1b[K[%s%s] %3d%%  %s / %s  %d records",
		strings.Repeat("#", filled), strings.Repeat("-", progressWidth-filled),
		read*100/b.total, humanBytes(read), humanBytes(b.total), b.records.Load())
}

// println prints line above the bar.
func (b *progressBar) println(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.out, "\r\x1b[K%s\n", line)
	b.draw()
}

// finish stops redrawing, draws the final state and ends its line; a nil
// bar does nothing.
func (b *progressBar) finish() {
	if b == nil {
		return
	}
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draw()
	fmt.Fprintln(b.out)
}

// humanBytes renders n in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
