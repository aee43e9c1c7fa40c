package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// The commands page sends a command as `jetflow send` does: a request to
// <commands.subject_prefix>.<type>.<command> through the client package,
// for the commands this binary registers only. It sets Jetflow-Command-Id
// (the operator's, or a new one): a resubmitted form is then answered from
// the first run instead of running twice, and the events the command
// wrote are found by it, their causation id.

type commandsData struct {
	Commands []string
	// Command, Body, CommandID and ExpectedVersion fill the form. The
	// form comes with a new command id: reloading a sent form sends the
	// same id again (answered from the first run), while the next command
	// typed into the page gets its own.
	Command, Body, CommandID, ExpectedVersion string
	Sent                                      bool
	// SentID is the command id the command was sent with.
	SentID string
	// Reply is the service's reply (JSON), or Refusal its error reply, or
	// Err any other failure.
	Reply         string
	Refusal       *wire.Error
	Err           string
	AggregateType string
	AggregateID   string
	Duplicate     bool
	Events        []eventView
	EventsErr     string
}

func (c *Console) commands() []string {
	if c.deps.Commands == nil {
		return nil
	}
	return c.deps.Commands.Commands()
}

func (c *Console) commandsPage(w http.ResponseWriter, r *http.Request) {
	d := commandsData{Commands: c.commands(), Body: "{}", CommandID: streams.NewEventID()}
	p, err := newParams(r.URL.Query(), []string{"command"})
	if err == nil {
		if d.Command = p.get("command"); d.Command != "" {
			err = checkCommandName(d.Command)
		}
	}
	if err != nil {
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "commands", "Commands", "commands", d)
		return
	}
	c.render(w, r, http.StatusOK, "commands", "Commands", "commands", d)
}

func (c *Console) sendCommand(w http.ResponseWriter, r *http.Request) {
	d := commandsData{Commands: c.commands()}
	f, err := parseCommandForm(r.PostForm, c.deps.MaxCommandBody)
	d.Command, d.Body, d.CommandID, d.ExpectedVersion = r.PostForm.Get("command"), r.PostForm.Get("body"), r.PostForm.Get("command_id"), r.PostForm.Get("expected_version")
	switch {
	case err != nil:
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "commands", "Commands", "commands", d)
		return
	case !slices.Contains(d.Commands, f.Command):
		d.Err = "command: " + f.Command + " is not a command this binary serves"
		c.render(w, r, http.StatusBadRequest, "commands", "Commands", "commands", d)
		return
	}
	if f.CommandID == "" {
		f.CommandID = streams.NewEventID()
	}
	d.SentID, d.Sent, d.CommandID = f.CommandID, true, streams.NewEventID()
	opts := []client.CommandOption{client.CommandID(f.CommandID)}
	if f.ExpectedVersion != nil {
		opts = append(opts, client.ExpectedVersion(*f.ExpectedVersion))
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.deps.CommandTimeout+requestBound)
	defer cancel()
	raw, err := c.client.SendRaw(ctx, f.Command, json.RawMessage(f.Body), opts...)
	// The body is not logged: it is the domain's data, personal or not.
	c.audit(r, "send command", "command", f.Command, "command_id", f.CommandID, "body_bytes", len(f.Body), "result", sendResult(raw, err))
	var refusal *wire.Error
	switch {
	case errors.As(err, &refusal):
		d.Refusal = refusal
		c.render(w, r, http.StatusOK, "commands", "Commands", "commands", d)
		return
	case errors.Is(err, client.ErrNoService):
		d.Err = "no service answers " + c.deps.CommandPrefix + "." + f.Command + " (the command service is starting or stopped)"
		c.render(w, r, http.StatusBadGateway, "commands", "Commands", "commands", d)
		return
	case err != nil:
		d.Err = err.Error()
		c.render(w, r, http.StatusBadGateway, "commands", "Commands", "commands", d)
		return
	}
	d.Reply = prettyJSON(raw)
	var reply wire.CommandReply
	if err := json.Unmarshal(raw, &reply); err != nil || reply.AggregateID == "" {
		d.EventsErr = "the reply names no aggregate, so its events cannot be looked up"
		c.render(w, r, http.StatusOK, "commands", "Commands", "commands", d)
		return
	}
	d.AggregateType, _, _ = strings.Cut(f.Command, ".")
	d.AggregateID, d.Duplicate = reply.AggregateID, reply.Duplicate
	d.Events, err = c.eventsOf(ctx, d.AggregateType, d.AggregateID, f.CommandID)
	if err != nil {
		d.EventsErr = err.Error()
	}
	c.render(w, r, http.StatusOK, "commands", "Commands", "commands", d)
}

// eventsOf returns the events command commandID wrote to an aggregate.
func (c *Console) eventsOf(ctx context.Context, typ, id, commandID string) ([]eventView, error) {
	var out []eventView
	scanned := 0
	for ev, err := range c.deps.Store.Load(ctx, typ, id, 0) {
		if err != nil {
			return out, err
		}
		if scanned++; scanned > maxCausationScan {
			return out, errors.New("the aggregate has more than " + strconv.Itoa(maxCausationScan) + " events; open it to page through them")
		}
		if ev.Metadata.CausationID == commandID {
			out = append(out, viewOf(ev))
		}
	}
	return out, nil
}

// sendResult is a command's outcome for the audit log: the reply, or the
// error.
func sendResult(raw json.RawMessage, err error) string {
	if err != nil {
		return err.Error()
	}
	return string(raw)
}
