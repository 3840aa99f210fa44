//go:build !wasip1

package sim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/jocko/jocko/sim/trace"
)

// observer is the host side of sim/trace: the program hands it every event,
// log line and string name through the "jocko" host module, always; what to
// keep is decided here, so observing never changes the program's run.
// Host functions of one instance run on that instance's goroutine, one at a
// time, so an observer needs no lock.
type observer struct {
	vc      *vclock
	text    io.Writer
	w       *bufio.Writer
	keep    bool
	events  []trace.Event
	names   map[uint64]string
	buggify map[string]int
	memMax  uint32 // the largest linear memory seen at an event
}

type observerKey struct{}

func instantiateObserver(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("jocko").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, at int64, kind uint32, a, b, c uint64) {
		if o, _ := ctx.Value(observerKey{}).(*observer); o != nil {
			o.memMax = max(o.memMax, m.Memory().Size())
			o.event(trace.Event{At: at, Kind: trace.Kind(kind), A: a, B: b, C: c})
		}
	}).Export("event").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, p, n uint32) {
		if o, _ := ctx.Value(observerKey{}).(*observer); o != nil && o.text != nil {
			if buf, ok := m.Memory().Read(p, n); ok {
				o.log(buf)
			}
		}
	}).Export("log").
		NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, h uint64, p, n uint32) {
		if o, _ := ctx.Value(observerKey{}).(*observer); o != nil {
			if _, known := o.names[h]; !known {
				if buf, ok := m.Memory().Read(p, n); ok {
					o.names[h] = string(buf)
				}
			}
		}
	}).Export("name").
		Instantiate(ctx)
	return err
}

func (o *observer) writer() *bufio.Writer {
	if o.w == nil {
		o.w = bufio.NewWriterSize(o.text, 1<<20)
	}
	return o.w
}

func (o *observer) event(e trace.Event) {
	if e.Kind == trace.Buggify {
		o.buggify[o.names[e.A]]++
	}
	if o.keep {
		o.events = append(o.events, e)
	}
	if o.text != nil {
		fmt.Fprintf(o.writer(), "T %s\n", trace.Format(e, o.lookup))
	}
}

func (o *observer) log(line []byte) {
	w := o.writer()
	fmt.Fprintf(w, "L %12.6fs ", time.Duration(o.vc.ns.Load()).Seconds())
	w.Write(line)
	if len(line) > 0 && line[len(line)-1] != '\n' {
		w.WriteByte('\n')
	}
}

func (o *observer) lookup(h uint64) (string, bool) {
	s, ok := o.names[h]
	return s, ok
}

func (o *observer) flush() {
	if o.w != nil {
		o.w.Flush()
	}
}
