package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// leaderNext reads, from the stream's leader, the first message on subject
// at or after sequence from; false when there is none. Deciding what a
// failed append did must not trust a replica: a direct get may be served
// by one a little behind, which would miss the very event just stored and
// turn a success into a conflict (and a retried command into a double).
func (s *Store) leaderNext(ctx context.Context, subject string, from uint64) (Event, bool, error) {
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
	}{from, subject})
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.gets.timeout)
		defer cancel()
	}
	msg, err := s.js.Conn().RequestWithContext(ctx, s.gets.api+"STREAM.MSG.GET."+s.cfg.EventStream, req)
	if err != nil {
		return Event{}, false, fmt.Errorf("streams: read %s from %d on the leader: %w", subject, from, err)
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Subject  string    `json:"subject"`
			Sequence uint64    `json:"seq"`
			Header   []byte    `json:"hdrs"`
			Data     []byte    `json:"data"`
			Time     time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return Event{}, false, fmt.Errorf("streams: read %s on the leader: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 404:
		return Event{}, false, nil
	case resp.Error != nil:
		return Event{}, false, fmt.Errorf("streams: read %s on the leader: %s", subject, resp.Error.Description)
	case resp.Message == nil:
		return Event{}, false, errors.New("streams: read on the leader: empty reply")
	}
	var h nats.Header
	if len(resp.Message.Header) > 0 {
		if h, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return Event{}, false, fmt.Errorf("streams: read %s on the leader: headers: %w", subject, err)
		}
	}
	// As stored, like scan: these are compared with what was just sent.
	ev, err := DecodeMessage(resp.Message.Subject, h, resp.Message.Data, resp.Message.Sequence)
	return ev, err == nil, err
}
