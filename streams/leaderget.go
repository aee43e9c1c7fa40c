package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaderMsg is a message read from a stream's leader.
type LeaderMsg struct {
	Subject  string
	Sequence uint64
	Header   nats.Header
	Data     []byte
}

// GetFromLeader reads the message at sequence seq of stream, or with
// nextFor set the first one on that subject at or after seq, from the
// stream's leader; false when there is none. A direct get may be served by
// a replica a little behind; deciding what an append just did, or whether
// a client's write is there, must not trust one.
func GetFromLeader(ctx context.Context, js jetstream.JetStream, stream string, seq uint64, nextFor string) (LeaderMsg, bool, error) {
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj,omitempty"`
	}{seq, nextFor})
	what := fmt.Sprintf("%s sequence %d", stream, seq)
	if nextFor != "" {
		what = fmt.Sprintf("%s on %s from %d", stream, nextFor, seq)
	}
	return getFromLeader(ctx, js, stream, req, what)
}

// GetLastFromLeader reads the last message on subject of stream from the
// stream's leader (a KV record as it is now); false when there is none.
// A missing stream is an error matching jetstream.ErrStreamNotFound.
func GetLastFromLeader(ctx context.Context, js jetstream.JetStream, stream, subject string) (LeaderMsg, bool, error) {
	req, _ := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{subject})
	return getFromLeader(ctx, js, stream, req, fmt.Sprintf("the last of %s on %s", stream, subject))
}

// errCodeStreamNotFound is JetStream's error code for a missing stream.
const errCodeStreamNotFound = 10059

func getFromLeader(ctx context.Context, js jetstream.JetStream, stream string, req []byte, what string) (LeaderMsg, bool, error) {
	if _, ok := ctx.Deadline(); !ok {
		timeout := js.Options().DefaultTimeout
		if timeout <= 0 {
			timeout = defaultDirectGetTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	msg, err := js.Conn().RequestWithContext(ctx, apiPrefix(js)+"STREAM.MSG.GET."+stream, req)
	if err != nil {
		return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: %w", what, err)
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Subject  string `json:"subject"`
			Sequence uint64 `json:"seq"`
			Header   []byte `json:"hdrs"`
			Data     []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: %w", what, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errCodeStreamNotFound:
		return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: %w", what, jetstream.ErrStreamNotFound)
	case resp.Error != nil && resp.Error.Code == 404:
		return LeaderMsg{}, false, nil
	case resp.Error != nil:
		return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: %s", what, resp.Error.Description)
	case resp.Message == nil:
		return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: %w", what, errors.New("empty reply"))
	}
	out := LeaderMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Sequence, Data: resp.Message.Data}
	if len(resp.Message.Header) > 0 {
		if out.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return LeaderMsg{}, false, fmt.Errorf("streams: read %s on the leader: headers: %w", what, err)
		}
	}
	return out, true, nil
}

// apiPrefix is the JetStream API prefix of js, with its trailing dot.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

// leaderNext is the events of the first message on subject at or after
// from, read from the leader, as stored (like scan: they are compared with
// what was just sent); none when there is no such message.
func (s *Store) leaderNext(ctx context.Context, subject string, from uint64) ([]Event, error) {
	m, ok, err := GetFromLeader(ctx, s.js, s.cfg.EventStream, from, subject)
	if err != nil || !ok {
		return nil, err
	}
	return DecodeEvents(m.Subject, m.Header, m.Data, m.Sequence)
}
