package config

import (
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode: no document makes the parser panic or hang, every error is
// positioned, and a document that decodes prints (Encode) as one that
// decodes to the same Config.
func FuzzDecode(f *testing.F) {
	if src, err := os.ReadFile(rootFile); err == nil {
		f.Add(src)
	}
	for _, seed := range []string{
		"",
		"[events]\nreplicas: 3\n",
		"$r: @env(\"R\", 2)\n[events]\nreplicas = $r\n[topics.orders]\nbackoff: [\n\"1s\", # c\n\"2s\",]\n",
		"[subscriptions.s]\nsubjects: ['events.>']\nfilter_field: \"a.b\"\nfilter_op: \"equals\"\nfilter_value: -1.5e3\n",
		"[nats]\nuser: \"\\u00e9\\U0001F600\\\"\\\\\"\n",
		"[evnts]\nreplica: \"x\"\n",
		"[topics.t]\nbackoff: [[[[[[\n",
		"\uFEFF[log]\r\nlevel: null\r\n",
		"[events]\nreplicas: 99999999999999999999\n",
		// @file reads a file: the fuzzer may name any, and a secret key's
		// value (the file's contents) must never reach an error.
		"[subscriptions.s]\nwebhook_secret: @file(\"fuzz_test.go\")\nwebhook_headers: [@file(\"/dev/null\"), 1]\n",
		"[nats]\npassword: @file(\"../config\")\n",
	} {
		f.Add([]byte(seed))
	}
	env := []string{"R=5", "JETFLOW_X=1"}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := Decode("f.tsk", src, env)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 || se.File != "f.tsk" {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		doc, err := Format(c)
		if err != nil {
			// Only names set from Go can be unwritable; a decoded name never is.
			t.Fatalf("Format of a decoded Config: %v", err)
		}
		back, err := Decode("encoded", doc, nil)
		if err != nil {
			t.Fatalf("Decode(Encode(c)): %v\n%s", err, doc)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Decode(Encode(c)) differs:\n got %+v\nwant %+v\n%s", back, c, doc)
		}
		_ = c.Validate() // must not panic either
	})
}

// FuzzSet: any key and text either sets a value that survives Encode, or
// fails with a *FieldError.
func FuzzSet(f *testing.F) {
	f.Add("events.replicas", "3")
	f.Add("topics.orders.backoff", `["1s", "2s"]`)
	f.Add("subscriptions.a-b.filter_value", `"x"`)
	f.Add("nats.url", "nats://a:1")
	f.Fuzz(func(t *testing.T, key, val string) {
		c := Default()
		if err := c.Set(key, val); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Set error is not a *FieldError: %v", err)
			}
			return
		}
		doc, err := Format(c)
		if err != nil {
			t.Fatalf("Format: %v", err)
		}
		back, err := Decode("encoded", doc, nil)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("Set(%q, %q) does not survive Encode: %v\n%s", key, val, err, doc)
		}
	})
}
