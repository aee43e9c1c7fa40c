package wire_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

// FuzzDecodeStrict: any body either decodes into exactly one object or is
// refused with a message; it never panics.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"a":"x","n":1}`, `{"a":1}`, `{} {}`, `[]`, ``, `{"a":"x","z":true}`, `{"n":1e999}`,
		// Text that is not Unicode: lone surrogates, raw 0xff, a valid pair,
		// an escaped backslash before u, a zero-width space.
		`{"a":"\ud800"}`, `{"a":"\udbff"}`, `{"a":"\udc00"}`, `{"a":"\ud800\u0041"}`, "{\"a\":\"\xff\"}",
		"{\"a\xff\":1}", `{"a":"\ud83d\ude00"}`, `{"a":"\\ud800"}`, `{"a":"\u200b"}`, "{\"a\":\"\u200b\"}",
		`{"a":"\ud800`, `{"a":"\uZZZZ"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			A string `json:"a"`
			N int    `json:"n"`
		}
		err := wire.DecodeStrict(body, &v)
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
		// What is accepted was sent: no U+FFFD the decoder made up.
		if err == nil && strings.ContainsRune(v.A, utf8.RuneError) &&
			!strings.Contains(string(body), "\uFFFD") && !strings.Contains(strings.ToLower(string(body)), `\ufffd`) {
			t.Fatalf("%q decoded to %q: text rewritten", body, v.A)
		}
		if err == nil && !utf8.ValidString(v.A) {
			t.Fatalf("%q decoded to invalid UTF-8 %q", body, v.A)
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
		if e := wire.ParseErrorReply(msg); (code != "") != (e != nil) {
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
		if err := wire.DecodeStrict([]byte(body), &n); err == nil || err.Error() != want {
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
		err := wire.DecodeStrict([]byte(body), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want one mentioning %q", body, err, want)
		}
	}
}

// TestDecodeStrictRefusesTextThatIsNotUnicode: encoding/json turns a lone
// surrogate escape and invalid UTF-8 into U+FFFD, so "\ud800" and "\udbff"
// were the same id. Both are refused, naming the field and the byte.
func TestDecodeStrictRefusesTextThatIsNotUnicode(t *testing.T) {
	t.Parallel()
	var v struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	}
	for body, want := range map[string]string{
		`{"id":"\ud800"}`:                        `field "id": lone surrogate \ud800 at byte 7`,
		`{"id":"\uDBFF"}`:                        `field "id": lone surrogate \uDBFF at byte 7`,
		`{"id":"x\udc00"}`:                       `field "id": lone surrogate \udc00 at byte 8`,
		`{"id":"\ud800\u0041"}`:                  `field "id": lone surrogate \ud800`,
		`{"id":"\ud800\ud800"}`:                  `field "id": lone surrogate \ud800 at byte 7`,
		`{"id":"ok","data":{"k":["\udfff"]}}`:    `field "data": lone surrogate \udfff`,
		`{"\ud800":1}`:                           `lone surrogate \ud800 at byte 2`,
		"{\"id\":\"abc\xff\"}":                   `request body is not valid UTF-8 at byte 10 (field "id")`,
		"{\"id\":\"\xed\xa0\x80\"}":              `request body is not valid UTF-8 at byte 7 (field "id")`,
		"  {\"id\":\"a\",\"data\":{\"\xff\":1}}": `not valid UTF-8 at byte 21 (field "data")`,
		"{\"id\":\"a\"}\xff":                     `request body is not valid UTF-8 at byte 10`,
	} {
		err := wire.DecodeStrict([]byte(body), &v)
		if !errors.Is(err, wire.ErrInvalidUnicode) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ErrInvalidUnicode mentioning %q", body, err, want)
		}
		var ue *wire.UnicodeError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %T is not a *UnicodeError", body, err)
		}
	}
	// Valid text, however it is written, still decodes to what was sent.
	for body, want := range map[string]string{
		`{"id":"\ud83d\ude00"}`: "\U0001F600",
		`{"id":"\\ud800"}`:      `\ud800`,
		`{"id":"h\u00e9"}`:      "hé",
		`{"id":"\ufffd"}`:       "\ufffd",
		"{\"id\":\"é😀\"}":       "é😀",
	} {
		if err := wire.DecodeStrict([]byte(body), &v); err != nil || v.ID != want {
			t.Errorf("%q: %q, %v; want %q", body, v.ID, err, want)
		}
	}
}
