package aggregates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jetflow/jetflow/rpc"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/logctx"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// serve handles one command request from decoding to reply.
func (s *Service) serve(ctx context.Context, r route, req rpc.Request) rpc.Response {
	start := time.Now()
	cmd, correlation, rerr := s.commandFromHeaders(req.Header)
	replyHeaders := nats.Header{wire.HeaderCorrelationID: {correlation}}
	// Every line logged while handling this command, in any package,
	// carries its correlation id (see logctx.Handler).
	base := logctx.With(ctx, "correlation_id", correlation, "command", req.Subject)
	if id := wire.TraceID(cmd.Metadata.TraceParent); id != "" {
		base = logctx.With(wire.WithTraceParent(base, cmd.Metadata.TraceParent), "trace_id", id)
	}
	// Who sent it: the events record the verified user, not the claim,
	// when the service runs in IdentityNATS (identity.go).
	caller := rpc.CallerOf(s.identity, req.Header, cmd.Metadata.UserID, s.log)
	cmd.Metadata.UserID = caller.UserID
	base = rpc.WithCaller(base, caller)

	var out Outcome
	var cause error
	if rerr == nil && len(req.Data) > s.cfg.MaxPayload {
		rerr = wire.Errorf(wire.StatusTooLarge, wire.CodeTooLarge, "request body is %d bytes, at most %d allowed", len(req.Data), s.cfg.MaxPayload)
	}
	if rerr == nil {
		cctx, cancel := context.WithTimeout(base, s.cfg.Timeout)
		out, cause = s.run(cctx, r.h, req.Data, cmd)
		cancel()
		rerr = toRPCError(cause)
	}
	took := time.Since(start)
	if rerr != nil {
		s.obs.CommandHandled(r.aggregateType, r.command, rerr.Code, took)
		if rerr.Status >= 500 {
			s.log.WarnContext(base, "command failed", "status", rerr.Status, "code", rerr.Code, "error", cause, "took", took)
		} else {
			// The refusal's message may quote the client's input (an email
			// that does not validate): it goes back to the client, and into
			// the log only at debug level.
			s.log.InfoContext(base, "command refused", "status", rerr.Status, "code", rerr.Code, "took", took)
			s.log.DebugContext(base, "command refused because", "error", rerr.Message)
		}
		return rpc.Response{Header: replyHeaders, Err: rerr}
	}
	s.obs.CommandHandled(r.aggregateType, r.command, "ok", took)
	s.log.DebugContext(base, "command handled", "aggregate_id", out.AggregateID, "version", out.Version, "events", len(out.Events), "duplicate", out.Duplicate, "took", took)
	body, _ := json.Marshal(wire.CommandReply{AggregateID: out.AggregateID, Version: out.Version, Sequence: out.Sequence, Duplicate: out.Duplicate})
	if out.Duplicate {
		replyHeaders[wire.HeaderDuplicate] = []string{"true"}
	}
	return rpc.Response{Header: replyHeaders, Body: body}
}

// run executes the command, turning a panic into an internal error so one
// bad command never takes the service down.
func (s *Service) run(ctx context.Context, h handler, data []byte, cmd Command) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "command handler panicked", "panic", fmt.Sprint(p))
			err = errPanicked
		}
	}()
	return h.handle(ctx, data, cmd)
}

var errPanicked = errors.New("command handler panicked")

func (s *Service) commandFromHeaders(h nats.Header) (Command, string, *wire.Error) {
	var cmd Command
	var rerr *wire.Error
	correlation, rerr := wire.HeaderValue(h, wire.HeaderCorrelationID, maxHeaderBytes)
	if correlation == "" {
		correlation = streams.NewEventID()
	}
	if rerr != nil {
		return cmd, correlation, rerr
	}
	cmd.Metadata.CorrelationID = correlation
	if cmd.ID, rerr = wire.HeaderValue(h, wire.HeaderCommandID, maxHeaderBytes); rerr != nil {
		return cmd, correlation, rerr
	}
	cmd.Idempotent = cmd.ID != ""
	if cmd.ID == "" {
		cmd.ID = streams.NewEventID()
	}
	cmd.Metadata.Source = s.cfg.Name
	if cmd.Metadata.UserID, rerr = wire.HeaderValue(h, wire.HeaderUserID, maxHeaderBytes); rerr != nil {
		return cmd, correlation, rerr
	}
	// W3C: a traceparent that does not parse (too long, malformed) is
	// dropped, not passed on, and never fails the request.
	if tp := h.Get(wire.HeaderTraceParent); wire.ValidTraceParent(tp) {
		cmd.Metadata.TraceParent = tp
	}
	if v := h.Get(wire.HeaderExpectedVersion); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return cmd, correlation, wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "header %s %q is not a version number", wire.HeaderExpectedVersion, v)
		}
		cmd.ExpectedVersion = &n
	}
	return cmd, correlation, nil
}

// toRPCError maps what Execute returned onto the wire contract's codes.
func toRPCError(err error) *wire.Error {
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
		case errors.Is(de.Kind, ErrForbidden):
			return wire.Errorf(wire.StatusForbidden, wire.CodeForbidden, "%s", de.Message)
		case errors.Is(de.Kind, ErrNotFound):
			return wire.Errorf(wire.StatusNotFound, wire.CodeNotFound, "%s", de.Message)
		case errors.Is(de.Kind, ErrRuleViolated):
			return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "%s", de.Message)
		}
		return wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "%s", de.Message)
	case errors.As(err, &vm):
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "%s", vm.Error())
	case errors.As(err, &reused):
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "%s %s was already used for a different command (%s); use a new id for a new command", wire.HeaderCommandID, reused.CommandID, reused.earlier())
	case errors.Is(err, ErrAlreadyApplied):
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "this %s was applied earlier; its result is no longer remembered, read the aggregate's current state", wire.HeaderCommandID)
	case errors.As(err, &ce):
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "the aggregate was changed concurrently; reload and retry")
	case errors.As(err, &tooLarge):
		return wire.Errorf(wire.StatusTooLarge, wire.CodeTooLarge, "the events of this command are too large: %s", tooLarge.Error())
	case errors.Is(err, streams.ErrInvalidAggregateID), errors.Is(err, streams.ErrInvalidEvent):
		return wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "%v", err)
	case errors.Is(err, streams.ErrOutcomeUnknown) && !errors.Is(err, context.DeadlineExceeded):
		return wire.Errorf(wire.StatusUnavailable, wire.CodeUnavailable, "the event store did not confirm the write; it may or may not have been applied: resend it with the same %s", wire.HeaderCommandID)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return wire.Errorf(wire.StatusTimeout, wire.CodeTimeout, "the command did not finish in time; it may or may not have been applied: resend it with the same %s", wire.HeaderCommandID)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, streams.ErrStreamBusy),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, context.Canceled):
		return wire.Errorf(wire.StatusUnavailable, wire.CodeUnavailable, "the event store is unavailable: %v", err)
	}
	return wire.Errorf(wire.StatusInternal, wire.CodeInternal, "internal error; see the service log")
}
