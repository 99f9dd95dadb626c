package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// redisStartTimeout bounds a start, from exec to the first answer: a
	// server without persistence answers within milliseconds, but a busy
	// 2-core machine under the race detector slows everything.
	redisStartTimeout = 15 * time.Second
	// redisBindTries is how many free ports startRedis tries: another
	// process may take the port between its probe and the server's bind.
	redisBindTries = 5
	redisLogName   = "redis.log"
)

// errAddrInUse means redis-server exited because its port was taken.
var errAddrInUse = errors.New("address already in use")

// redisServer is the demo's own redis-server process: on a free loopback
// port, in a temporary directory, with no persistence.
type redisServer struct {
	cmd     *exec.Cmd
	addr    string
	log     string
	version string
	done    chan struct{} // closed once the process is reaped
}

// findRedis resolves the redis-server binary, with an error that says
// how to install it.
func findRedis(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("the fleet demo runs a local Redis, but %q is not there (%w): "+
			"install Debian's redis-server package (apt-get install -y redis-server, which puts it at /usr/bin/redis-server) "+
			"or pass -redis-server /path/to/redis-server", name, err)
	}
	return p, nil
}

// startRedis runs bin in dir on a free port of 127.0.0.1 and returns once
// it answers PING as the process it started.
func startRedis(ctx context.Context, bin, dir string) (*redisServer, error) {
	var last error
	for range redisBindTries {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launchRedis(bin, dir, port)
		if err != nil {
			return nil, err
		}
		if last = s.waitReady(ctx); last == nil {
			return s, nil
		}
		s.stop()
		if !errors.Is(last, errAddrInUse) {
			break
		}
	}
	return nil, fmt.Errorf("start redis-server: %w\nits log:\n%s", last, tail(readFile(filepath.Join(dir, redisLogName)), 2000))
}

func launchRedis(bin, dir string, port int) (*redisServer, error) {
	logPath := filepath.Join(dir, redisLogName)
	log, err := os.Create(logPath) //nolint:gosec // G304: a file of the demo's own temporary directory
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: logPath, done: make(chan struct{})}
	// No snapshot, no append-only file: the demo's state lives as long as
	// the demo, and nothing is written to disk but the log.
	s.cmd = exec.Command(bin, //nolint:gosec // G204: the redis-server binary the user chose, with the demo's own arguments; no shell
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
	)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = log, log // with no --logfile the server logs to stdout
	detach(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait() // ProcessState tells how it ended
		killGroup(s.cmd)
		close(s.done)
	}()
	return s, nil
}

// waitReady polls the server until it answers PING, as the process this
// run started: until then another program may own the port.
func (s *redisServer) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	client := redis.NewClient(&redis.Options{Addr: s.addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer client.Close()
	pid := strconv.Itoa(s.cmd.Process.Pid)
	for {
		info, err := client.Info(ctx, "server").Result()
		if err == nil {
			if got := field(info, "process_id"); got != pid {
				return fmt.Errorf("the server on %s is process %s, not ours (%s)", s.addr, got, pid)
			}
			s.version = field(info, "redis_version")
			return nil
		}
		select {
		case <-s.done:
			if strings.Contains(readFile(s.log), "Address already in use") {
				return errAddrInUse
			}
			return fmt.Errorf("redis-server exited before it answered (%s)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("no answer from redis-server on %s: %w (last: %w)", s.addr, ctx.Err(), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop kills the server and waits until it is gone. Without persistence
// SIGKILL loses nothing the demo needs.
func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill() // os.ErrProcessDone when it has exited, as wanted
	<-s.done
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("listener address %v is not TCP", l.Addr())
	}
	return addr.Port, nil
}

// field returns the value of name in an INFO reply, whose lines are
// name:value; "" if it has no such line.
func field(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), name+":"); ok {
			return v
		}
	}
	return ""
}

func readFile(path string) string {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a file of the demo's own temporary directory
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// tail returns the last n bytes of s, for an error message.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
