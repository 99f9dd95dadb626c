package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server answers the commands a test asserts with, in the forms Do
// returns: simple strings, integers, bulk strings, nulls, arrays, errors.
func TestDo(t *testing.T) {
	t.Parallel()
	s := Start(t)

	got, err := s.Do("SET", "k", "a value\r\nwith CRLF")
	require.NoError(t, err)
	assert.Equal(t, "OK", got)
	got, err = s.Do("GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "a value\r\nwith CRLF", got)
	got, err = s.Do("DBSIZE")
	require.NoError(t, err)
	assert.Equal(t, "1", got)

	_, err = s.Do("GET", "missing")
	require.ErrorIs(t, err, ErrNil)

	_, err = s.Do("RPUSH", "l", "x", "y", "z")
	require.NoError(t, err)
	got, err = s.Do("LRANGE", "l", "0", "-1")
	require.NoError(t, err)
	assert.Equal(t, "x\ny\nz", got)

	_, err = s.Do("NO-SUCH-COMMAND")
	var re ReplyError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.Error(), "unknown command")

	info, err := s.Do("INFO", "server")
	require.NoError(t, err)
	assert.Equal(t, s.Addr(), "127.0.0.1:"+Field(info, "tcp_port"))
	assert.Empty(t, Field(info, "no_such_field"))
}

// Start's defaults hold (no persistence, loopback only), and Args
// overrides them.
func TestStartConfig(t *testing.T) {
	t.Parallel()
	s := Start(t, Args("--maxmemory", "1mb", "--maxmemory-policy", "allkeys-lru"))
	for name, want := range map[string]string{
		"save":             "",
		"appendonly":       "no",
		"bind":             "127.0.0.1",
		"maxmemory":        "1048576",
		"maxmemory-policy": "allkeys-lru",
	} {
		got, err := s.Do("CONFIG", "GET", name)
		require.NoError(t, err)
		assert.Equal(t, name+"\n"+want, got)
	}
	assert.True(t, strings.HasPrefix(s.Addr(), "127.0.0.1:"), s.Addr())
}

// A paused server hangs: a command times out, and is answered once the
// server resumes.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.DoContext(ctx, "PING")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	s.Resume()
	got, err := s.Do("PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", got)
}

// A killed server refuses connections; restarted, it is back on the same
// address, empty. The cleanup copes with a server the test killed and a
// server it left paused.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	addr := s.Addr()
	_, err := s.Do("SET", "k", "v")
	require.NoError(t, err)

	s.Kill()
	_, err = s.Do("PING")
	require.Error(t, err)
	s.Kill() // a second Kill does nothing

	s.Restart()
	assert.Equal(t, addr, s.Addr())
	_, err = s.Do("GET", "k")
	require.ErrorIs(t, err, ErrNil, "no persistence: the restarted server is empty")

	s.Restart() // a running server is killed first
	got, err := s.Do("PING")
	require.NoError(t, err)
	assert.Equal(t, "PONG", got)

	t.Run("killed", func(t *testing.T) { Start(t).Kill() })
	t.Run("paused", func(t *testing.T) { Start(t).Pause() })
}

// A server whose port is taken exits, and boot says so, which is what
// makes Start try another port and Restart try again. What holds the port
// here accepts connections and never answers, as a hung program would.
func TestBootOnATakenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	bin, err := lookPath("redis-server")
	require.NoError(t, err)
	port, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok)
	s := &Server{tb: t, bin: bin, dir: t.TempDir(), port: port.Port}
	defer s.stop()
	err = s.boot(time.Now().Add(startTimeout))
	require.ErrorIs(t, err, errAddrInUse)
	assert.Contains(t, s.logTail(), "Address already in use")
}

// Three masters form a cluster that every node reports ok, with every slot
// assigned, and a key is served by the node that owns its slot.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	addrs := c.Addrs()
	require.Len(t, addrs, 3)
	assert.NotEqual(t, addrs[0], addrs[1])
	assert.NotEqual(t, addrs[1], addrs[2])
	for _, s := range c.Servers() {
		info, err := s.Do("CLUSTER", "INFO")
		require.NoError(t, err)
		assert.Equal(t, "ok", Field(info, "cluster_state"), s.Addr())
		assert.Equal(t, "16384", Field(info, "cluster_slots_assigned"), s.Addr())
		assert.Equal(t, "3", Field(info, "cluster_known_nodes"), s.Addr())
	}
	served := 0
	for _, s := range c.Servers() {
		_, err := s.Do("SET", "some-key", "v")
		var re ReplyError
		if err == nil {
			served++
		} else {
			require.ErrorAs(t, err, &re)
			assert.True(t, strings.HasPrefix(string(re), "MOVED "), "%v", re)
		}
	}
	assert.Equal(t, 1, served, "one node owns the key's slot")
}

// Fewer than 3 masters is not a cluster redis-cli builds.
func TestClusterTooSmall(t *testing.T) {
	ft := &fatalTB{TB: t}
	runFatal(func() { StartCluster(ft, 2) })
	assert.Contains(t, ft.msg, "at least 3 masters")
}

// Without redis-server on $PATH, Start fails the test, saying how to
// install it.
func TestStartWithoutRedisFails(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	ft := &fatalTB{TB: t}
	runFatal(func() { Start(ft) })
	assert.Contains(t, ft.msg, "apt-get install -y redis-server")
}

// The reply parser reads every RESP2 type and refuses what is not RESP.
func TestReadReply(t *testing.T) {
	for in, want := range map[string]string{
		"+OK\r\n":                             "OK",
		":-42\r\n":                            "-42",
		"$0\r\n\r\n":                          "",
		"$6\r\na\r\nb\r\n\r\n":                "a\r\nb\r\n",
		"*0\r\n":                              "",
		"*3\r\n$1\r\na\r\n$-1\r\n:7\r\n":      "a\n\n7",
		"*2\r\n*2\r\n+x\r\n+y\r\n-ERR no\r\n": "x\ny\nERR no",
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(in)))
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{"$-1\r\n", "*-1\r\n"} {
		_, err := readReply(bufio.NewReader(strings.NewReader(in)))
		assert.ErrorIs(t, err, ErrNil, "%q", in)
	}
	_, err := readReply(bufio.NewReader(strings.NewReader("-WRONGTYPE no\r\n")))
	assert.Equal(t, ReplyError("WRONGTYPE no"), err)
	for _, in := range []string{
		"", "+OK", "+OK\n", "\r\n", "?x\r\n", ":1.5\r\n", "$x\r\n", "$-2\r\n",
		"$3\r\nabcd\r\n", "$3\r\nab", "*2\r\n+a\r\n", "$999999999\r\n",
	} {
		_, err := readReply(bufio.NewReader(strings.NewReader(in)))
		assert.Error(t, err, "%q", in)
		assert.NotErrorIs(t, err, ErrNil, "%q", in)
	}
	assert.Equal(t, "*2\r\n$3\r\nGET\r\n$3\r\na b\r\n", string(encode([]string{"GET", "a b"})))
}

// fatalTB records the message of a Fatal, for a test of one.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	f.FailNow()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	f.FailNow()
}

// FailNow ends the goroutine, as testing's does, without failing the
// test that recorded the message.
func (*fatalTB) FailNow() { runtime.Goexit() }

// runFatal runs fn on a goroutine of its own, which FailNow may end.
func runFatal(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}
