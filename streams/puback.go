package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// pubAck is the server's reply to a publish into a stream.
type pubAck struct {
	Stream    string              `json:"stream"`
	Sequence  uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	Error     *jetstream.APIError `json:"error,omitempty"`
}

// Publish retries as jetstream's PublishMsg does: a stream electing its
// leader has no responder for a moment.
const (
	publishRetryWait     = jetstream.DefaultPubRetryWait
	publishRetryAttempts = jetstream.DefaultPubRetryAttempts
)

// publish sends msg into the event stream and returns its ack. It is
// jetstream's PublishMsg — the same request, the same retries on no
// responders, the same errors (*jetstream.APIError for a refusal) — with
// the ack parsed by parsePubAck instead of encoding/json's reflection:
// a single writer's append waits for every microsecond of it.
func (s *Store) publish(ctx context.Context, msg *nats.Msg) (pubAck, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.js.Options().DefaultTimeout)
		defer cancel()
	}
	nc := s.js.Conn()
	resp, err := nc.RequestMsgWithContext(ctx, msg)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < publishRetryAttempts; r++ {
		t := time.NewTimer(publishRetryWait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		resp, err = nc.RequestMsgWithContext(ctx, msg)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return pubAck{}, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return pubAck{}, err
	}
	ack, err := parsePubAck(resp.Data)
	switch {
	case err != nil:
		return pubAck{}, fmt.Errorf("%w: %v", jetstream.ErrInvalidJSAck, err)
	case ack.Error != nil:
		return pubAck{}, fmt.Errorf("nats: %w", ack.Error)
	case ack.Stream == "":
		return pubAck{}, jetstream.ErrInvalidJSAck
	}
	return ack, nil
}

// parsePubAck decodes a publish reply. The server writes a success as a
// flat object — {"stream":"EVENTS", "seq":42} and perhaps "domain" or
// "duplicate":true — which is read here directly; anything else (an
// error object, escapes, other kinds of values) goes to encoding/json,
// which gives the same result (FuzzParsePubAck holds both to it).
func parsePubAck(data []byte) (pubAck, error) {
	if ack, ok := parseFlatPubAck(data); ok {
		return ack, nil
	}
	var ack pubAck
	if err := json.Unmarshal(data, &ack); err != nil {
		return pubAck{}, err
	}
	return ack, nil
}

// parseFlatPubAck reads an object of string (without escapes), unsigned
// integer and boolean values, each key once; false for anything else.
func parseFlatPubAck(b []byte) (pubAck, bool) {
	var ack pubAck
	var seen [3]bool // stream, seq, duplicate; other keys are ignored, as encoding/json does
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ack, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return ack, skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return ack, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return ack, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return ack, false
		}
		slot := -1
		switch key {
		case "stream":
			slot = 0
		case "seq":
			slot = 1
		case "duplicate":
			slot = 2
		default:
			// encoding/json reads errors, and matches keys without regard
			// to case: leave those to it.
			for _, k := range [...]string{"stream", "seq", "duplicate", "error"} {
				if strings.EqualFold(key, k) {
					return ack, false
				}
			}
		}
		if slot >= 0 {
			if seen[slot] {
				return ack, false // encoding/json keeps the last: let it
			}
			seen[slot] = true
		}
		switch c := b[i]; {
		case c == '"':
			v, next, ok := plainString(b, i)
			if !ok || slot == 1 || slot == 2 {
				return ack, false
			}
			if slot == 0 {
				ack.Stream = v
			}
			i = next
		case c >= '0' && c <= '9':
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if slot != 1 || (b[i] == '0' && j-i > 1) || (j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E')) {
				return ack, false
			}
			n, err := strconv.ParseUint(string(b[i:j]), 10, 64)
			if err != nil {
				return ack, false
			}
			ack.Sequence, i = n, j
		case c == 't' || c == 'f':
			v := c == 't'
			word := "false"
			if v {
				word = "true"
			}
			if len(b)-i < len(word) || string(b[i:i+len(word)]) != word || slot != 2 {
				return ack, false
			}
			ack.Duplicate, i = v, i+len(word)
		default:
			return ack, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return ack, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return ack, skipSpace(b, i+1) == len(b)
		default:
			return ack, false
		}
	}
}

// plainString reads a JSON string at b[i] that needs no unescaping and
// holds no control character or non-ASCII byte; it returns the string and
// the index after its closing quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return string(b[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
