package rpc_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/rpc"
)

// FuzzDecodeStrict: any body either decodes into exactly one object or is
// refused with a message; it never panics.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"a":"x","n":1}`, `{"a":1}`, `{} {}`, `[]`, ``, `{"a":"x","z":true}`, `{"n":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			A string `json:"a"`
			N int    `json:"n"`
		}
		if err := rpc.DecodeStrict(body, &v); err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
	})
}

// FuzzParseErrorReply: whatever a reply carries, the client reads it
// without panicking, and an error code header always yields an error.
func FuzzParseErrorReply(f *testing.F) {
	f.Add("400", "bad", []byte(`{"error":{"code":"validation","message":"bad"}}`))
	f.Add("", "", []byte(`{"aggregate_id":"x","version":1,"sequence":2}`))
	f.Add("500", "", []byte(`not json`))
	f.Fuzz(func(t *testing.T, code, desc string, body []byte) {
		msg := &nats.Msg{Header: nats.Header{}, Data: body}
		if code != "" {
			msg.Header.Set("Nats-Service-Error-Code", code)
			msg.Header.Set("Nats-Service-Error", desc)
		}
		if e := rpc.ParseErrorReply(msg); (code != "") != (e != nil) {
			t.Fatalf("code header %q gave %v", code, e)
		}
	})
}

func TestDecodeStrictNamesTheProblem(t *testing.T) {
	t.Parallel()
	var n struct {
		Page *int   `json:"page"`
		Min  uint64 `json:"min"`
		F    float64
	}
	for body, want := range map[string]string{
		`{"page":1.5}`:                  `field "page" must be an integer (64 bits), got number 1.5`,
		`{"page":99999999999999999999}`: `field "page" must be an integer (64 bits), got number 99999999999999999999`,
		`{"min":-5}`:                    `field "min" must be a whole number from 0 (64 bits), got number -5`,
		`{"F":"x"}`:                     `field "F" must be a number, got string`,
	} {
		if err := rpc.DecodeStrict([]byte(body), &n); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	var v struct {
		A string `json:"a"`
	}
	for body, want := range map[string]string{
		``:                  "empty",
		`{"a":`:             "malformed JSON",
		`{"a":1}`:           `field "a" must be a string`,
		`{"b":1}`:           `unknown field "b"`,
		`{"a":"x"} {"a":1}`: "after the JSON object",
		`[1]`:               "JSON object",
		`null`:              "JSON object",
		`"a"`:               "JSON object",
		`{"A":"x"}`:         `unknown field "A" (names are case-sensitive: "a")`,
		`{"a":"x","a":"y"}`: `field "a" given twice`,
	} {
		err := rpc.DecodeStrict([]byte(body), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want one mentioning %q", body, err, want)
		}
	}
}
