package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNil is Do's error when the reply is RESP's null (a bulk string or
// array of length -1), as GET answers for a missing key: a test can then
// tell a missing value from an empty one.
var ErrNil = errors.New("redistest: nil reply")

// ReplyError is an error reply of the server, such as "ERR unknown
// command" or "MOVED 3999 127.0.0.1:7002", without its leading '-'.
type ReplyError string

// Error returns the reply's text.
func (e ReplyError) Error() string { return string(e) }

// maxBulk bounds a bulk string or array length that do accepts: a reply
// larger than this is a broken stream here, not a value a test asserts on,
// and reading it would allocate whatever a corrupt length claims.
const maxBulk = 64 << 20

// do sends one command to addr on a connection of its own and reads its
// reply. A new connection per command keeps a paused or killed server from
// leaving a half-read reply for the next command, and costs nothing a test
// notices.
func do(ctx context.Context, addr string, args ...string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("redistest: no command")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", wrapErr(ctx, args[0], err)
	}
	defer conn.Close()
	// A cancelled context must unblock a read from a hung server, which
	// a deadline alone would not do before it passes.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(encode(args)); err != nil {
		return "", wrapErr(ctx, args[0], err)
	}
	reply, err := readReply(bufio.NewReader(conn))
	if err != nil {
		var re ReplyError
		if errors.Is(err, ErrNil) || errors.As(err, &re) {
			return "", err
		}
		return "", wrapErr(ctx, args[0], err)
	}
	return reply, nil
}

// wrapErr prefers the context's error, so that a caller can test for
// context.DeadlineExceeded instead of a net package timeout.
func wrapErr(ctx context.Context, cmd string, err error) error {
	cause := ctx.Err()
	if cause == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is the context's, and its timer may
		// fire a moment before the context's own.
		cause = context.DeadlineExceeded
	}
	if cause != nil {
		return fmt.Errorf("redistest: %s: %w (%w)", cmd, cause, err)
	}
	return fmt.Errorf("redistest: %s: %w", cmd, err)
}

// encode writes a command as RESP's array of bulk strings, the form that
// carries any bytes, spaces and CRLF included.
func encode(args []string) []byte {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return []byte(b.String())
}

// readReply reads one RESP2 reply. Integers come back in decimal; an array
// comes back flattened, its elements (nested arrays' included) joined by
// newlines, with a null element as an empty line and an error element as
// its text. A top-level null is ErrNil and a top-level error a ReplyError.
func readReply(r *bufio.Reader) (string, error) {
	line, err := readLine(r)
	if err != nil {
		return "", err
	}
	if line == "" {
		return "", errors.New("redistest: empty reply line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return "", ReplyError(body)
	case ':':
		if _, err := strconv.ParseInt(body, 10, 64); err != nil {
			return "", fmt.Errorf("redistest: bad integer reply %q", line)
		}
		return body, nil
	case '$':
		n, err := length(line)
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if string(buf[n:]) != "\r\n" {
			return "", fmt.Errorf("redistest: bulk string of %d bytes not ended by CRLF", n)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := length(line)
		if err != nil || n < 0 {
			return "", err
		}
		elems := make([]string, 0, min(n, 1024))
		for range n {
			e, err := readReply(r)
			var re ReplyError
			switch {
			case errors.Is(err, ErrNil):
				e = ""
			case errors.As(err, &re):
				e = re.Error()
			case err != nil:
				return "", err
			}
			elems = append(elems, e)
		}
		return strings.Join(elems, "\n"), nil
	default:
		return "", fmt.Errorf("redistest: unknown reply type in %q", line)
	}
}

// length parses the length of a bulk string or array header: ErrNil for
// -1, an error for any other negative length or one past maxBulk.
func length(line string) (int, error) {
	n, err := strconv.Atoi(line[1:])
	switch {
	case err != nil:
		return 0, fmt.Errorf("redistest: bad length in %q", line)
	case n == -1:
		return -1, ErrNil
	case n < 0 || n > maxBulk:
		return 0, fmt.Errorf("redistest: length out of range in %q", line)
	}
	return n, nil
}

// readLine reads a line ended by CRLF and returns it without the CRLF.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("redistest: reply line %q not ended by CRLF", line)
	}
	return line[:len(line)-2], nil
}
