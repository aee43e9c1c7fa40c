package wire_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

func TestParseRequestInfo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		header  string
		want    wire.RequestInfo
		present bool
		err     error
	}{
		{"absent", "", wire.RequestInfo{}, false, nil},
		// What nats-server 2.15.2 stamps through an import with share: true
		// (verified in deploy/identity_test.go).
		{"shared import", `{"start":"2026-01-02T10:56:16.48Z","host":"127.0.0.1","id":9,"acc":"APP","user":"alice","name":"app-alice","lang":"go","ver":"1.55.0","rtt":77773,"server":"NCTE","kind":"Client","client_type":"nats"}`,
			wire.RequestInfo{Account: "APP", User: "alice", Name: "app-alice"}, true, nil},
		// ... and without share: the account alone.
		{"unshared import", `{"acc":"APP2","rtt":81132}`, wire.RequestInfo{Account: "APP2"}, true, nil},
		{"not json", `acc=APP`, wire.RequestInfo{}, true, wire.ErrInvalidRequestInfo},
		{"no account", `{"user":"alice"}`, wire.RequestInfo{}, true, wire.ErrInvalidRequestInfo},
		{"control characters", `{"acc":"APP","user":"al\nice"}`, wire.RequestInfo{}, true, wire.ErrInvalidRequestInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := nats.Header{}
			if tc.header != "" {
				h.Set(wire.HeaderRequestInfo, tc.header)
			}
			got, present, err := wire.ParseRequestInfo(h)
			if present != tc.present || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("present %v, err %v; want %v, %v", present, err, tc.present, tc.err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestForbiddenStatus(t *testing.T) {
	t.Parallel()
	e := wire.Errorf(wire.StatusForbidden, wire.CodeForbidden, "only the user themself or an admin")
	if !errors.Is(e, wire.ErrForbidden) || errors.Is(e, wire.ErrUnknown) {
		t.Fatalf("%v: want it to match ErrForbidden", e)
	}
	back := wire.ParseErrorReply(e.Reply("_INBOX.x"))
	if back == nil || back.Status != 403 || back.Code != "forbidden" {
		t.Fatalf("round trip: %+v", back)
	}
}

// FuzzParseRequestInfo: whatever a request carries in Nats-Request-Info
// (the server's stamp, or a forgery from inside the service's account), it
// parses or is refused, never panics, and what it accepts names an account
// and holds no control character.
func FuzzParseRequestInfo(f *testing.F) {
	for _, s := range []string{
		`{"acc":"APP","user":"alice","name":"app-alice","rtt":77773,"kind":"Client"}`,
		`{"acc":"APP2","rtt":81132}`, `{}`, `null`, `[]`, `{"acc":1}`, `{"acc":"A","user":"\u0000"}`, `{"acc":"A"} x`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := nats.Header{wire.HeaderRequestInfo: {v}}
		info, present, err := wire.ParseRequestInfo(h)
		if present != (v != "") {
			t.Fatalf("header %q: present %v", v, present)
		}
		if !present {
			return
		}
		if err != nil {
			if !errors.Is(err, wire.ErrInvalidRequestInfo) || info != (wire.RequestInfo{}) {
				t.Fatalf("refusal %v with %+v", err, info)
			}
			return
		}
		if info.Account == "" || wire.HasControl(info.Account+info.User+info.Name) {
			t.Fatalf("accepted %+v", info)
		}
	})
}
