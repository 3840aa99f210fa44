//go:build !wasip1

package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/jocko/jocko/sim/trace"
)

// Epoch is where every run's virtual clock starts (the Go runtime aborts on
// a zero nanotime): 2024-01-01T00:00:00Z.
const Epoch = 1704067200 * int64(time.Second)

// cacheKeep is how many compiled modules the on-disk cache keeps (~100 MB each).
const cacheKeep = 3

// CacheDir is where the simulator keeps its wasm build and compiled code.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "jocko-sim")
}

// Build compiles the simulator program for wasip1 into dir and returns its path.
func Build(ctx context.Context, moduleRoot, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "sim.wasm")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./sim/wasm")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the simulator for wasip1: %v\n%s", err, b)
	}
	return out, nil
}

// Host runs the compiled simulator, one instance per seed.
type Host struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

// NewHost compiles wasm with NumCPU workers and an on-disk cache under
// cacheDir, pruning all but the newest cached modules.
func NewHost(ctx context.Context, wasm []byte, cacheDir string) (*Host, error) {
	cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, err
	}
	// Not WithCloseOnContextDone: its checks in every loop made runs about
	// half as fast. The wall-clock limit is enforced in the clock calls
	// instead (vclock.check), which the guest's scheduler makes all the time.
	cfg := wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, err
	}
	if err := instantiateObserver(ctx, rt); err != nil {
		return nil, err
	}
	mod, err := rt.CompileModule(experimental.WithCompilationWorkers(ctx, runtime.NumCPU()), wasm)
	if err != nil {
		return nil, err
	}
	pruneCache(cacheDir, cacheKeep)
	return &Host{rt: rt, mod: mod}, nil
}

// RunSpec is one execution of the program.
type RunSpec struct {
	Seed           uint64
	Args           []string
	Stdout, Stderr io.Writer
	// Trace, when set, receives the text trace: every event in words and
	// every log line, stamped with virtual time.
	Trace io.Writer
	// Events keeps the event list (RunResult.Events), for divergence reports.
	Events bool
}

// RunResult is what the host saw of one execution.
type RunResult struct {
	Exit    int
	Virtual time.Duration
	Events  []trace.Event  // with RunSpec.Events
	Buggify map[string]int // how often each BUGGIFY site fired
	Memory  uint32         // the program's largest linear memory (bytes; wasm memory never shrinks)
}

// Run executes the program once. Randomness comes from spec.Seed and time is
// virtual; ctx bounds the wall-clock time. What the host observes (trace,
// events) never reaches the program, so it cannot change the run. The
// guest's environment is set here, never inherited: GOGC and GODEBUG in the
// test's environment do not reach it.
func (h *Host) Run(ctx context.Context, spec RunSpec) (RunResult, error) {
	vc := &vclock{}
	defer context.AfterFunc(ctx, func() { vc.expired.Store(true) })()
	obs := &observer{vc: vc, text: spec.Trace, keep: spec.Events, names: map[uint64]string{}, buggify: map[string]int{}}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{"sim"}, spec.Args...)...).
		WithEnv("GOGC", "100").
		WithEnv("GODEBUG", "").
		WithStdout(spec.Stdout).
		WithStderr(spec.Stderr).
		WithRandSource(newSeeded(spec.Seed)).
		WithNanotime(vc.nanotime, 1).
		WithWalltime(vc.walltime, 1).
		WithNanosleep(vc.nanosleep)
	mod, err := h.rt.InstantiateModule(context.WithValue(ctx, observerKey{}, obs), h.mod, cfg)
	if mod != nil {
		mod.Close(context.Background())
	}
	obs.flush()
	res := RunResult{Virtual: time.Duration(vc.ns.Load()), Events: obs.events, Buggify: obs.buggify, Memory: obs.memMax}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		if ctx.Err() != nil {
			return res, fmt.Errorf("wall-clock limit: %w", ctx.Err())
		}
		res.Exit = int(exit.ExitCode())
		return res, nil
	}
	if err != nil {
		res.Exit = -1
		return res, err
	}
	return res, nil
}

// Close releases the runtime.
func (h *Host) Close() { h.rt.Close(context.Background()) }

// vclock is one instance's virtual clock; it moves only in nanosleep, which
// wazero calls when the Go scheduler has nothing runnable.
type vclock struct {
	ns      atomic.Int64
	expired atomic.Bool // the run's wall-clock limit passed
}

// wallExit is the exit code of a run stopped by its wall-clock limit.
const wallExit = 124

// check ends the run once its wall-clock limit has passed: the guest's Go
// runtime reads the clock constantly, so a run stuck in a loop that
// never yields still ends here. A host function's panic with an exit
// error ends the module as an exit would.
func (v *vclock) check() {
	if v.expired.Load() {
		panic(sys.NewExitError(wallExit))
	}
}

func (v *vclock) nanotime() int64 {
	v.check()
	return time.Second.Nanoseconds() + v.ns.Load()
}

func (v *vclock) walltime() (int64, int32) {
	v.check()
	t := Epoch + v.ns.Load()
	return t / 1e9, int32(t % 1e9)
}

func (v *vclock) nanosleep(d int64) {
	v.check()
	if d <= 0 {
		d = 1
	}
	v.ns.Add(d)
}

// seeded is the random source the program's runtime and crypto/rand see.
type seeded struct{ r *rand.ChaCha8 }

func newSeeded(seed uint64) *seeded {
	var key [32]byte
	for i := 0; i < 8; i++ {
		key[i] = byte(seed >> (8 * i))
	}
	copy(key[8:], "jocko-sim-seeded-random")
	return &seeded{rand.NewChaCha8(key)}
}

func (s *seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

// pruneCache keeps the newest keep files under dir.
func pruneCache(dir string, keep int) {
	type entry struct {
		path string
		mod  time.Time
	}
	var files []entry
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				files = append(files, entry{p, fi.ModTime()})
			}
		}
		return nil
	})
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	for i := keep; i < len(files); i++ {
		os.Remove(files[i].path)
	}
}
