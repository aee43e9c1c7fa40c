package aggregates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/logctx"
	"github.com/jetflow/jetflow/internal/rpc"
	"github.com/jetflow/jetflow/internal/tracectx"
	"github.com/jetflow/jetflow/streams"
)

// serve handles one command request from decoding to reply.
func (s *Service) serve(ctx context.Context, r route, req rpc.Request) rpc.Response {
	start := time.Now()
	cmd, correlation, rerr := s.commandFromHeaders(req.Header)
	replyHeaders := nats.Header{rpc.HeaderCorrelationID: {correlation}}
	// Every line logged while handling this command, in any package,
	// carries its correlation id (see logctx.Handler).
	base := logctx.With(ctx, "correlation_id", correlation, "command", req.Subject)
	if id := tracectx.TraceID(cmd.Metadata.TraceParent); id != "" {
		base = logctx.With(tracectx.With(base, cmd.Metadata.TraceParent), "trace_id", id)
	}

	var out Outcome
	var cause error
	if rerr == nil && len(req.Data) > s.cfg.MaxPayload {
		rerr = rpc.Errorf(rpc.StatusTooLarge, rpc.CodeTooLarge, "request body is %d bytes, at most %d allowed", len(req.Data), s.cfg.MaxPayload)
	}
	if rerr == nil {
		cctx, cancel := context.WithTimeout(base, s.cfg.Timeout)
		out, cause = s.run(cctx, r.h, req.Data, cmd)
		cancel()
		rerr = toRPCError(cause)
	}
	took := time.Since(start)
	if rerr != nil {
		s.cfg.Metrics.CommandHandled(r.aggregateType, r.command, rerr.Code, took)
		if rerr.Status >= 500 {
			s.cfg.Logger.WarnContext(base, "command failed", "status", rerr.Status, "code", rerr.Code, "error", cause, "took", took)
		} else {
			s.cfg.Logger.InfoContext(base, "command refused", "status", rerr.Status, "code", rerr.Code, "error", rerr.Message, "took", took)
		}
		return rpc.Response{Header: replyHeaders, Err: rerr}
	}
	s.cfg.Metrics.CommandHandled(r.aggregateType, r.command, "ok", took)
	s.cfg.Logger.DebugContext(base, "command handled", "aggregate_id", out.AggregateID, "version", out.Version, "events", len(out.Events), "duplicate", out.Duplicate, "took", took)
	body, _ := json.Marshal(rpc.CommandReply{AggregateID: out.AggregateID, Version: out.Version, Sequence: out.Sequence, Duplicate: out.Duplicate})
	if out.Duplicate {
		replyHeaders[rpc.HeaderDuplicate] = []string{"true"}
	}
	return rpc.Response{Header: replyHeaders, Body: body}
}

// run executes the command, turning a panic into an internal error so one
// bad command never takes the service down.
func (s *Service) run(ctx context.Context, h handler, data []byte, cmd Command) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.ErrorContext(ctx, "command handler panicked", "panic", fmt.Sprint(p))
			err = errPanicked
		}
	}()
	return h.handle(ctx, data, cmd)
}

var errPanicked = errors.New("command handler panicked")

func (s *Service) commandFromHeaders(h nats.Header) (Command, string, *rpc.Error) {
	var cmd Command
	var rerr *rpc.Error
	correlation, rerr := rpc.HeaderValue(h, rpc.HeaderCorrelationID, maxHeaderBytes)
	if correlation == "" {
		correlation = streams.NewEventID()
	}
	if rerr != nil {
		return cmd, correlation, rerr
	}
	cmd.Metadata.CorrelationID = correlation
	if cmd.ID, rerr = rpc.HeaderValue(h, rpc.HeaderCommandID, maxHeaderBytes); rerr != nil {
		return cmd, correlation, rerr
	}
	cmd.Idempotent = cmd.ID != ""
	if cmd.ID == "" {
		cmd.ID = streams.NewEventID()
	}
	cmd.Metadata.Source = s.cfg.Name
	if cmd.Metadata.UserID, rerr = rpc.HeaderValue(h, rpc.HeaderUserID, maxHeaderBytes); rerr != nil {
		return cmd, correlation, rerr
	}
	// W3C: a traceparent that does not parse (too long, malformed) is
	// dropped, not passed on, and never fails the request.
	if tp := h.Get(rpc.HeaderTraceParent); tracectx.Valid(tp) {
		cmd.Metadata.TraceParent = tp
	}
	if v := h.Get(rpc.HeaderExpectedVersion); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cmd, correlation, rpc.Errorf(rpc.StatusInvalid, rpc.CodeValidation, "header %s %q is not a version number", rpc.HeaderExpectedVersion, v)
		}
		cmd.ExpectedVersion = &n
	}
	return cmd, correlation, nil
}

// toRPCError maps what Execute returned onto the wire contract's codes.
func toRPCError(err error) *rpc.Error {
	if err == nil {
		return nil
	}
	var de *DomainError
	var vm *VersionMismatchError
	var ce *streams.ConflictError
	var tooLarge *streams.PayloadTooLargeError
	var reused *CommandIDReusedError
	switch {
	case errors.As(err, &de):
		switch {
		case errors.Is(de.Kind, ErrNotFound):
			return rpc.Errorf(rpc.StatusNotFound, rpc.CodeNotFound, "%s", de.Message)
		case errors.Is(de.Kind, ErrRuleViolated):
			return rpc.Errorf(rpc.StatusConflict, rpc.CodeConflict, "%s", de.Message)
		}
		return rpc.Errorf(rpc.StatusInvalid, rpc.CodeValidation, "%s", de.Message)
	case errors.As(err, &vm):
		return rpc.Errorf(rpc.StatusConflict, rpc.CodeConflict, "%s", vm.Error())
	case errors.As(err, &reused):
		return rpc.Errorf(rpc.StatusConflict, rpc.CodeConflict, "%s %s was already used for a different command (%s); use a new id for a new command", rpc.HeaderCommandID, reused.CommandID, reused.earlier())
	case errors.Is(err, ErrAlreadyApplied):
		return rpc.Errorf(rpc.StatusConflict, rpc.CodeConflict, "this %s was applied earlier; its result is no longer remembered, read the aggregate's current state", rpc.HeaderCommandID)
	case errors.As(err, &ce):
		return rpc.Errorf(rpc.StatusConflict, rpc.CodeConflict, "the aggregate was changed concurrently; reload and retry")
	case errors.As(err, &tooLarge):
		return rpc.Errorf(rpc.StatusTooLarge, rpc.CodeTooLarge, "the events of this command are too large: %s", tooLarge.Error())
	case errors.Is(err, streams.ErrInvalidAggregateID), errors.Is(err, streams.ErrInvalidEvent):
		return rpc.Errorf(rpc.StatusInvalid, rpc.CodeValidation, "%v", err)
	case errors.Is(err, streams.ErrOutcomeUnknown) && !errors.Is(err, context.DeadlineExceeded):
		return rpc.Errorf(rpc.StatusUnavailable, rpc.CodeUnavailable, "the event store did not confirm the write; it may or may not have been applied: resend it with the same %s", rpc.HeaderCommandID)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return rpc.Errorf(rpc.StatusTimeout, rpc.CodeTimeout, "the command did not finish in time; it may or may not have been applied: resend it with the same %s", rpc.HeaderCommandID)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, streams.ErrStreamBusy),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, context.Canceled):
		return rpc.Errorf(rpc.StatusUnavailable, rpc.CodeUnavailable, "the event store is unavailable: %v", err)
	}
	return rpc.Errorf(rpc.StatusInternal, rpc.CodeInternal, "internal error; see the service log")
}
