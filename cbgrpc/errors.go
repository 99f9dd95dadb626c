package cbgrpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tripswitch/tripswitch/cb"
)

// MinRetryDelay is the retry delay a rejection advertises when its
// breaker has no time left to give: a half-open breaker whose probes are
// all out, or one forced open. Zero would tell clients to retry at once,
// which is what the breaker is there to stop.
const MinRetryDelay = time.Second

// OpenError is the error of a call a breaker rejected, on either side: a
// Client's call that never reached the network, or a Server's call whose
// handler was not run. It is a gRPC status error with code Unavailable and
// a google.rpc.RetryInfo detail saying when to try again, and it matches
// cb.ErrOpen with errors.Is (errors.As finds the *cb.OpenError too).
//
// Unavailable is the code gRPC reserves for a service that cannot take
// the call now and may later, which a client's retry policy and load
// balancer already treat as such.
//
// An OpenError is a single pointer, so returning one allocates nothing;
// its status is built when GRPCStatus is called.
type OpenError struct {
	// Err is the breaker's rejection, which names the breaker and knows
	// its time left. nil in an OpenError made by hand.
	Err *cb.OpenError
}

// Error returns the breaker's description of the rejection.
func (e OpenError) Error() string {
	if e.Err == nil {
		return cb.ErrOpen.Error()
	}
	return e.Err.Error()
}

// Unwrap returns the breaker's *cb.OpenError, through which errors.Is
// matches cb.ErrOpen.
func (e OpenError) Unwrap() error {
	if e.Err == nil {
		return cb.ErrOpen
	}
	return e.Err
}

// GRPCStatus returns the status a rejection travels as: code Unavailable,
// the breaker's message and a RetryInfo detail whose delay is RetryAfter,
// read when GRPCStatus is called. grpc-go calls it to send a Server's
// rejection, and status.Code, status.FromError and status.Convert call it
// for a Client's.
func (e OpenError) GRPCStatus() *status.Status {
	st := status.New(codes.Unavailable, e.Error())
	withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter())})
	if err != nil {
		return st // only a status with code OK refuses details
	}
	return withInfo
}

// RetryAfter returns, as of now, how long to wait before calling again:
// the time until the breaker may admit a probe, or MinRetryDelay when it
// has no time to give (half-open with every probe out, or forced open).
func (e OpenError) RetryAfter() time.Duration {
	if e.Err == nil {
		return MinRetryDelay
	}
	if d := e.Err.RetryAfter(); d > 0 {
		return d
	}
	return MinRetryDelay
}

// RetryAfter returns the retry delay an error of a gRPC call carries, and
// whether it carries one: for a Client's rejection (an OpenError, or a
// *cb.OpenError), the breaker's time left as OpenError.RetryAfter reports
// it; for a status received from a server, the delay of its first
// google.rpc.RetryInfo detail, such as a Server's rejection sends.
func RetryAfter(err error) (time.Duration, bool) {
	if err == nil {
		return 0, false
	}
	var oe *cb.OpenError
	if errors.As(err, &oe) {
		return OpenError{Err: oe}.RetryAfter(), true
	}
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// openError wraps a breaker's rejection.
func openError(err error) OpenError {
	oe, _ := err.(*cb.OpenError) //nolint:errorlint // a breaker rejects with its own *cb.OpenError, never wrapped
	return OpenError{Err: oe}
}

// The breakers learn the interceptors' verdicts through the error of each
// call, read back by verdictOpts' classifier: nil is a success, errIgnored
// (which matches context.Canceled) is ignored, errFailed is a failure.
// Classifying in the interceptor rather than in the breaker keeps each
// Client's and Server's Classify its own even when they share a registry
// (an option such as cb.WithClassifier applies only in the Get that makes
// a breaker), and a breaker of the key made elsewhere with cb's default
// classification reads the verdicts the same way.
var (
	errIgnored = fmt.Errorf("cbgrpc: ignored: %w", context.Canceled)
	errFailed  = errors.New("cbgrpc: failed")

	verdictOpts = []cb.Option[codes.Code]{cb.WithClassifier(readVerdict)}
)

// readVerdict is the breakers' classifier (see verdictOpts).
func readVerdict(_ codes.Code, err error) cb.Outcome {
	switch {
	case err == nil:
		return cb.Success
	case errors.Is(err, context.Canceled):
		return cb.Ignored
	}
	return cb.Failure
}

// encode turns an outcome into the error the breaker reads (see
// verdictOpts).
func encode(o cb.Outcome) error {
	switch o {
	case cb.Success:
		return nil
	case cb.Ignored:
		return errIgnored
	default:
		return errFailed
	}
}

// codeOf is the status code of a call's error. A context error that is not
// a status (an interceptor may return one as is) has the code gRPC gives
// it, not Unknown.
func codeOf(err error) codes.Code {
	switch {
	case err == nil:
		return codes.OK
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

// classifyByConfig classifies a non-nil error with a Config's IsIgnored
// and IsFailure, in cb's order, when either is set; ok is false when
// neither is. An unset IsIgnored ignores what cb's default does, a
// cancelled call, which gRPC reports as a status with code Canceled.
func classifyByConfig(cfg *cb.Config, err error) (o cb.Outcome, ok bool) {
	if cfg.IsIgnored == nil && cfg.IsFailure == nil {
		return 0, false
	}
	ignored := false
	if cfg.IsIgnored != nil {
		ignored = cfg.IsIgnored(err)
	} else {
		ignored = codeOf(err) == codes.Canceled // cb's default, as gRPC reports it
	}
	switch {
	case ignored:
		return cb.Ignored, true
	case cfg.IsFailure == nil || cfg.IsFailure(err):
		return cb.Failure, true
	}
	return cb.Success, true
}
