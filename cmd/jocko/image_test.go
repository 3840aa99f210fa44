package main

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestImage builds the top-level Dockerfile with podman, checks the
// image's configuration and files, then runs it and produces and consumes
// through it with franz-go.
//
// No registry is reachable here, so the golang image of the Dockerfile's
// build stage cannot be pulled: the test builds the static binary itself
// and builds the Dockerfile with --build-arg ROOTFS=prebuilt, which makes
// the final stage (the same one a normal build ends in) take the binary
// from the build context instead of the build stage; the unused build
// stage is never pulled. Where podman cannot run containers (this
// sandbox's crun refuses its setrlimit and cgroup setup; runc with lower
// rlimits works), the image's exported root file system is run with the
// image's entrypoint, environment and user, chrooted.
func TestImage(t *testing.T) {
	t.Parallel()
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed (apt-get install podman runc; .ci/run installs them): skipping the container image test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tag := fmt.Sprintf("localhost/jocko-image-test:%d", os.Getpid())
	label := fmt.Sprintf("jocko-image-test=%d", os.Getpid())
	t.Cleanup(func() {
		// The image and the prebuilt stage's, all carrying the label.
		ids, _ := exec.Command(podman, "images", "-a", "-q", "--filter", "label="+label).Output()
		if ids := strings.Fields(string(ids)); len(ids) > 0 {
			exec.Command(podman, append([]string{"rmi", "-f"}, ids...)...).Run()
		}
	})
	buildImage(t, ctx, podman, tag, label)

	cfg := inspectImage(t, ctx, podman, tag)
	root := exportImage(t, ctx, podman, tag)

	if opts, ok := podmanRunOptions(t, ctx, podman, tag); ok {
		runImagePodman(t, ctx, podman, tag, opts)
		return
	}
	if os.Geteuid() != 0 {
		t.Log("podman cannot run containers here and the test is not root (needed to chroot into the image): checked the image's configuration and files only")
		return
	}
	runImageRootfs(t, ctx, root, cfg)
}

// buildImage builds the binary statically and the image from it.
func buildImage(t *testing.T, ctx context.Context, podman, tag, label string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "var", "lib", "jocko"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "rootfs", "jocko"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build (static): %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, podman, "build", "--label", label, "--build-arg", "ROOTFS=prebuilt",
		"-f", filepath.Join("..", "..", "Dockerfile"), "-t", tag, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
}

// imageConfig is the part of the OCI image configuration the test checks.
type imageConfig struct {
	Entrypoint   []string
	User         string
	Env          []string
	ExposedPorts map[string]struct{}
	Volumes      map[string]struct{}
}

// inspectImage checks the image's entrypoint, user, ports, volume and
// environment.
func inspectImage(t *testing.T, ctx context.Context, podman, tag string) imageConfig {
	t.Helper()
	out, err := exec.CommandContext(ctx, podman, "image", "inspect", tag).Output()
	if err != nil {
		t.Fatalf("podman image inspect: %v", err)
	}
	var imgs []struct{ Config imageConfig }
	if err := json.Unmarshal(out, &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	c := imgs[0].Config
	if !slices.Equal(c.Entrypoint, []string{"/jocko", "broker"}) {
		t.Errorf("entrypoint %q, want [/jocko broker]", c.Entrypoint)
	}
	if uid, _, _ := strings.Cut(c.User, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("image user %q, want a non-root numeric user", c.User)
	} else if _, err := strconv.Atoi(uid); err != nil {
		t.Errorf("image user %q, want a numeric user (scratch has no /etc/passwd)", c.User)
	}
	for _, p := range []string{"9092/tcp", "9093/tcp", "9094/tcp", "9094/udp", "9095/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed (exposed: %v)", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/var/lib/jocko"]; !ok {
		t.Errorf("no volume at /var/lib/jocko (volumes: %v)", c.Volumes)
	}
	for _, e := range []string{"JOCKO_DATA_DIR=/var/lib/jocko", "JOCKO_LISTEN=0.0.0.0:9092"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("environment %q lacks %s", c.Env, e)
		}
	}
	return c
}

// exportImage unpacks the image's root file system into a directory and
// checks its files: the binary root's, the data directory the user's.
func exportImage(t *testing.T, ctx context.Context, podman, tag string) string {
	t.Helper()
	name := fmt.Sprintf("jocko-image-export-%d", os.Getpid())
	if out, err := exec.CommandContext(ctx, podman, "create", "--name", name, tag).CombinedOutput(); err != nil {
		t.Fatalf("podman create: %v\n%s", err, out)
	}
	defer exec.Command(podman, "rm", "-f", "-v", name).Run()
	root := t.TempDir()
	cmd := exec.CommandContext(ctx, podman, "export", name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]*tar.Header{}
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading podman export: %v", err)
		}
		name := strings.Trim(filepath.Clean("/"+h.Name), "/")
		seen[name] = h
		if err := unpack(root, name, h, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman export: %v", err)
	}
	if h := seen["jocko"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 || h.Uid != 0 {
		t.Errorf("image file /jocko: %+v, want an executable owned by root", h)
	}
	if h := seen["var/lib/jocko"]; h == nil || h.Typeflag != tar.TypeDir || h.Uid != 65532 {
		t.Errorf("image directory /var/lib/jocko: %+v, want a directory owned by the image user 65532", h)
	}
	return root
}

func unpack(root, name string, h *tar.Header, r io.Reader) error {
	if name == "" || name == "." {
		return nil
	}
	path := filepath.Join(root, name)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(path, os.FileMode(h.Mode).Perm()); err != nil {
			return err
		}
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	default:
		return nil // scratch images hold no links or devices
	}
	if os.Geteuid() == 0 {
		return os.Lchown(path, h.Uid, h.Gid)
	}
	return nil
}

// podmanRunOptions finds podman run options this machine can run the image
// with: none on an ordinary machine; in this sandbox crun fails on
// setrlimit and on cgroups, and runc works with rlimits no higher than the
// current ones. It tries `jocko broker -h` with each.
func podmanRunOptions(t *testing.T, ctx context.Context, podman, tag string) ([]string, bool) {
	t.Helper()
	var nofile syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
	limits := []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Cur), "--ulimit", "nproc=4096:4096"}
	candidates := [][]string{nil, append([]string{"--runtime", "runc"}, limits...), append([]string{"--cgroups=disabled"}, limits...)}
	for _, opts := range candidates {
		args := append(append([]string{"run", "--rm"}, opts...), tag, "-h")
		out, err := exec.CommandContext(ctx, podman, args...).CombinedOutput()
		if err == nil && strings.Contains(string(out), "-config") {
			t.Logf("podman runs the image with options %q", opts)
			return opts, true
		}
		t.Logf("podman run %q: %v: %s", opts, err, lastLine(string(out)))
	}
	return nil, false
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

// runImagePodman runs the image as it is (its own network, Kafka on
// 0.0.0.0:9092 inside, advertised as localhost:9092, data in its volume)
// with the Kafka port published on a free loopback port; the client
// dials that port whatever address the broker advertises, as a client
// behind a port mapping does.
func runImagePodman(t *testing.T, ctx context.Context, podman, tag string, opts []string) {
	name := fmt.Sprintf("jocko-image-test-%d", os.Getpid())
	args := append(append([]string{"run", "--rm", "--name", name, "-p", "127.0.0.1::9092"}, opts...), tag)
	cmd := exec.CommandContext(ctx, podman, args...)
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", "-v", name).Run() })
	run := startLogged(t, cmd)
	out, err := exec.CommandContext(ctx, podman, "port", name, "9092/tcp").Output()
	if err != nil {
		t.Fatalf("podman port: %v", err)
	}
	published := strings.TrimSpace(strings.Split(string(out), "\n")[0])
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, published)
	}
	produceConsume(t, ctx, "localhost:9092", kgo.Dialer(dial))
	if !strings.Contains(run.logs(), "data_dir=/var/lib/jocko") {
		t.Errorf("the broker in the image does not keep its data in /var/lib/jocko:\n%s", run.logs())
	}
	if out, err := exec.CommandContext(ctx, podman, "stop", "-t", "20", name).CombinedOutput(); err != nil {
		t.Errorf("podman stop: %v\n%s", err, out)
	}
	if err := run.wait(); err != nil || !strings.Contains(run.logs(), `msg="jocko stopped"`) {
		t.Errorf("the broker did not stop cleanly on podman stop (%v):\n%s", err, run.logs())
	}
}

// runImageRootfs runs the image's root file system the way a runtime
// would: chrooted into it, as the image's user, with the image's
// environment and entrypoint. It shares the host's network, so Kafka moves
// from the image's fixed 0.0.0.0:9092 to a free loopback port.
func runImageRootfs(t *testing.T, ctx context.Context, root string, c imageConfig) {
	uid, gid, _ := strings.Cut(c.User, ":")
	u, _ := strconv.Atoi(uid)
	g, err := strconv.Atoi(gid)
	if err != nil {
		g = u
	}
	cmd := &exec.Cmd{
		Path: c.Entrypoint[0],
		Args: c.Entrypoint,
		Env:  append(append([]string(nil), c.Env...), "JOCKO_LISTEN=127.0.0.1:0", "JOCKO_ADVERTISE="),
		Dir:  "/",
		SysProcAttr: &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: uint32(u), Gid: uint32(g)},
		},
	}
	t.Log("running the image's root file system chrooted, as user " + c.User)
	run := startLogged(t, cmd)
	m := readyRE.FindStringSubmatch(run.logs())
	produceConsume(t, ctx, m[1])
	if _, err := os.Stat(filepath.Join(root, "var", "lib", "jocko", "meta.properties")); err != nil {
		t.Errorf("the broker kept no data in the image's /var/lib/jocko: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := run.wait(); err != nil {
		t.Errorf("the broker did not stop cleanly on SIGTERM (%v):\n%s", err, run.logs())
	}
}

// started is a process whose output is being collected.
type started struct {
	mu     sync.Mutex
	out    strings.Builder
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

func (s *started) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// wait waits for the process to exit and returns its exit status.
func (s *started) wait() error {
	select {
	case <-s.exited:
		return s.err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("still running 30s after it was told to stop")
	}
}

// startLogged starts cmd, collects its output, and waits for the broker's
// ready line.
func startLogged(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &started{exited: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		isReady := false
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !isReady && readyRE.MatchString(sc.Text()) {
				close(ready)
				isReady = true
			}
		}
	}()
	go func() { s.err = cmd.Wait(); pw.Close(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			cmd.Process.Kill()
			<-s.exited
		}
	})
	select {
	case <-ready:
	case <-s.exited:
		t.Fatalf("the broker exited before it was ready (%v):\n%s", s.err, s.logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("the broker was not ready within 60s:\n%s", s.logs())
	}
	return s
}

// produceConsume sends 100 records acks=all to a new topic and reads them
// back, checking each, and that the broker advertises want.
func produceConsume(t *testing.T, ctx context.Context, want string, opts ...kgo.Opt) {
	t.Helper()
	seed := want
	if len(opts) > 0 {
		seed = "127.0.0.1:1" // the dialer decides where connections go
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seed), kgo.ConsumeTopics("image-test"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(md.Brokers) != 1 || net.JoinHostPort(md.Brokers[0].Host, strconv.Itoa(int(md.Brokers[0].Port))) != want {
		t.Errorf("the broker advertises %v, want %s", md.Brokers, want)
	}
	const n = 100
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "image-test", Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("value-%d", i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", got, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		for _, r := range fs.Records() {
			if string(r.Key) != strconv.Itoa(got) || string(r.Value) != fmt.Sprintf("value-%d", got) {
				t.Fatalf("record %d: key %q value %q", got, r.Key, r.Value)
			}
			got++
		}
	}
}
