package redistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DoTimeout bounds each Do. It is long enough for a loaded CI machine and
// short enough that a test talking to a paused server fails instead of
// hanging until go test's own timeout.
const DoTimeout = 5 * time.Second

const (
	// startTimeout bounds a start, from exec to the first answer: a
	// server without persistence answers within milliseconds, but the
	// race detector and a busy 2-core machine slow everything.
	startTimeout = 15 * time.Second
	// bindTries is how many free ports Start tries: another process may
	// take the port between freePorts closing it and redis-server binding.
	bindTries = 5
	// restartTimeout bounds how long Restart retries binding its old port.
	restartTimeout = 5 * time.Second
	// pollEvery is the pause between two checks of a starting server.
	pollEvery = 10 * time.Millisecond
	// tryTimeout bounds one check: what holds the port may be another
	// program that accepts a connection and never answers.
	tryTimeout = time.Second
	logName    = "redis.log"
)

// errAddrInUse means redis-server exited because its port was taken.
var errAddrInUse = errors.New("address already in use")

// Option changes how Start runs redis-server.
type Option func(*config)

type config struct {
	args []string
	// bus gives the server a second free port for the cluster bus:
	// redis-server's default, port+10000, is past 65535 for much of
	// Linux's ephemeral range.
	bus bool
}

// Args appends command-line arguments to the ones Start gives
// redis-server. A directive given again overrides Start's, so
// Args("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru") bounds
// the server's memory.
func Args(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// clusterBus is StartCluster's option: see config.bus.
func clusterBus() Option {
	return func(c *config) { c.bus = true }
}

// Server is one redis-server process that a test runs. Do and DoContext
// may be called from any goroutine; the other methods end the test with
// t.Fatal when they fail, so they belong to the test's goroutine.
type Server struct {
	tb      testing.TB
	bin     string
	dir     string
	cfg     config
	port    int
	busPort int

	mu   sync.Mutex
	proc *process // the latest run
}

// process is one run of redis-server.
type process struct {
	cmd *exec.Cmd
	// logFrom is where this run's lines start in the log, which every
	// run of the server appends to.
	logFrom int64
	// done is closed once the process has been reaped and its group
	// killed.
	done chan struct{}
}

// Start runs redis-server on a free port of 127.0.0.1, in a temporary
// directory, with no persistence and protected mode off, and returns once
// it answers PING. The server is killed when the test ends. Start fails the
// test if redis-server is not on $PATH or does not come up.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin, err := lookPath("redis-server")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	for _, o := range opts {
		o(&s.cfg)
	}
	// Registered after TempDir's own cleanup, so it runs before the
	// directory is removed from under the server.
	tb.Cleanup(s.stop)
	for range bindTries {
		ports := freePorts(tb, 2)
		s.port, s.busPort = ports[0], ports[1]
		if err = s.boot(time.Now().Add(startTimeout)); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("redistest: start redis-server: %v\nits log:\n%s", err, s.logTail())
	}
	return s
}

// Addr returns the server's address, host:port, which stays the same
// across Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it to
// be gone. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.current().kill()
}

// Pause stops the server with SIGSTOP: it keeps its port and its clients'
// connections, and the kernel still accepts new ones, but nothing is
// answered until Resume. It is how a hung server looks to a client.
func (s *Server) Pause() {
	s.tb.Helper()
	s.signal(stopSignal, "Pause")
}

// Resume lets a paused server go on with SIGCONT.
func (s *Server) Resume() {
	s.tb.Helper()
	s.signal(contSignal, "Resume")
}

// Restart starts the server again on the same port and in the same
// directory, after Kill (it kills a running server first), and returns once
// it answers. Without persistence it comes back empty; a cluster node
// comes back with its nodes.conf and so rejoins its cluster.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	// The old port may be held for a moment by another process that was
	// handed it, or by a connection the kernel has not let go of.
	deadline := time.Now().Add(restartTimeout)
	for {
		err := s.boot(deadline)
		if err == nil {
			return
		}
		if !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			s.tb.Fatalf("redistest: restart redis-server on %s: %v\nits log:\n%s", s.Addr(), err, s.logTail())
		}
		time.Sleep(pollEvery)
	}
}

// Do sends one command and returns its reply, within DoTimeout. Arrays come
// back flattened, their elements joined by newlines; a null reply is
// ErrNil and an error reply a ReplyError.
func (s *Server) Do(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DoTimeout)
	defer cancel()
	return do(ctx, s.Addr(), args...)
}

// DoContext is Do within ctx instead of DoTimeout: its error wraps ctx's
// when ctx ends first.
func (s *Server) DoContext(ctx context.Context, args ...string) (string, error) {
	return do(ctx, s.Addr(), args...)
}

func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// stop is Start's cleanup. The test may have killed the server already,
// or left it paused: SIGKILL ends a stopped process too.
func (s *Server) stop() {
	if p := s.current(); p != nil {
		p.kill()
	}
}

func (s *Server) signal(sig os.Signal, what string) {
	s.tb.Helper()
	if sig == nil {
		s.tb.Fatalf("redistest: %s needs Linux", what)
	}
	// Signal knows when the process has been reaped, so it never reaches
	// another process that was given the same pid.
	if err := s.current().cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: %s %s: %v", what, s.Addr(), err)
	}
}

// boot runs the server once on s.port and waits until it answers; on
// failure the process is gone when boot returns.
func (s *Server) boot(deadline time.Time) error {
	p, err := s.launch()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(p, deadline); err != nil {
		p.kill()
		return err
	}
	return nil
}

func (s *Server) launch() (*process, error) {
	log, err := os.OpenFile(filepath.Join(s.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	from, err := log.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
	}
	if s.cfg.bus {
		args = append(args, "--cluster-port", strconv.Itoa(s.busPort))
	}
	args = append(args, s.cfg.args...)
	cmd := exec.Command(s.bin, args...) //nolint:gosec // G204: redis-server from $PATH with the test's own arguments; no shell
	cmd.Dir = s.dir
	// With no --logfile the server logs to stdout.
	cmd.Stdout, cmd.Stderr = log, log
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, logFrom: from, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // ProcessState tells how it ended
		killGroup(cmd)
		close(p.done)
	}()
	return p, nil
}

// waitReady polls the server until it answers PING, as this run of it:
// until then another process may own the port, even another test's
// redis-server, which would answer too.
func (s *Server) waitReady(p *process, deadline time.Time) error {
	pid := strconv.Itoa(p.cmd.Process.Pid)
	var last error
	for {
		try := time.Now().Add(tryTimeout)
		if try.After(deadline) {
			try = deadline
		}
		ctx, cancel := context.WithDeadline(context.Background(), try)
		last = s.answers(ctx, pid)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			if strings.Contains(s.logSince(p.logFrom), "Address already in use") {
				return errAddrInUse
			}
			return fmt.Errorf("redis-server exited before it answered (%s)", p.cmd.ProcessState)
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING on %s in %v: %w", s.Addr(), startTimeout, last)
		}
	}
}

// answers returns nil if the server answers PING and is the process pid.
func (s *Server) answers(ctx context.Context, pid string) error {
	pong, err := do(ctx, s.Addr(), "PING")
	if err != nil {
		return err
	}
	if pong != "PONG" {
		return fmt.Errorf("PING answered %q", pong)
	}
	info, err := do(ctx, s.Addr(), "INFO", "server")
	if err != nil {
		return err
	}
	if got := Field(info, "process_id"); got != pid {
		return fmt.Errorf("the server on %s is process %s, not ours (%s)", s.Addr(), got, pid)
	}
	return nil
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill() // os.ErrProcessDone when it has exited, as wanted
	<-p.done
}

// Field returns the value of name in an INFO or CLUSTER INFO reply, whose
// lines are name:value; "" if it has no such line.
func Field(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), name+":"); ok {
			return v
		}
	}
	return ""
}

func (s *Server) logSince(off int64) string {
	b, err := os.ReadFile(filepath.Join(s.dir, logName))
	if err != nil {
		return err.Error()
	}
	return string(b[min(off, int64(len(b))):])
}

// logTail returns the end of the log, for a failure's message.
func (s *Server) logTail() string {
	const n = 4000
	l := s.logSince(0)
	if len(l) > n {
		return "..." + l[len(l)-n:]
	}
	return l
}

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment
// ago: all n are held open until each is chosen.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	held := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range held {
			_ = l.Close() // only held so that no two ports are the same
		}
	}()
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("redistest: find a free port: %v", err)
		}
		held = append(held, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			tb.Fatalf("redistest: listener address %v is not TCP", l.Addr())
		}
		ports[i] = addr.Port
	}
	return ports
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("redistest: %w; install it (Debian: apt-get install -y redis-server, which has redis-cli too)", err)
	}
	return p, nil
}
