package processes

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/streams"
)

// Records come from a bucket anyone with the service's rights can write:
// DecodeRecord never panics, and what it accepts encodes and decodes to
// the same record.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"process":"payment","id":"o-1","status":"running","state":{"requested":true},"steps":1,` +
		`"started_at":"2026-05-01T12:00:00Z","updated_at":"2026-05-01T12:00:00Z",` +
		`"deadlines":[{"name":"payment_due","id":"d-1","at":"2026-05-01T12:30:00Z"}],` +
		`"handled":[{"id":"e-1","kind":"event","type":"order.placed","sequence":2,"at":"2026-05-01T12:00:00Z","step":1}],` +
		`"pending":[{"kind":"command","id":"c-1","message":"e-1","name":"ledger.record","body":{"id":"x"},"written_at":"2026-05-01T12:00:00Z"}]}`))
	f.Add([]byte(`{"process":"p","id":"=dXNlckBleA","status":"ended","state":null,"steps":3,"ended_at":"2026-05-01T12:00:00Z"}`))
	f.Add([]byte(`{"process":"p","id":"x","status":"paused","state":{}}`))
	f.Add([]byte(`{"process":"p","id":"x","status":"running","state":{},"pending":[{"kind":"launch","id":"1"}]}`))
	f.Add([]byte(`{"process":"p","id":"x","status":"running","state":{}} {}`))
	f.Add([]byte(``))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedRecord) {
				t.Fatalf("error %v does not match ErrMalformedRecord", err)
			}
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		r2, err := DecodeRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v\n%s", err, again)
		}
		if r2.Process != r.Process || r2.ID != r.ID || r2.Status != r.Status || r2.Steps != r.Steps || len(r2.Pending) != len(r.Pending) {
			t.Fatalf("round trip changed the record: %+v → %+v", r, r2)
		}
	})
}

// Event data is outside input: Field never panics, and returns only
// strings it found or an ErrAssociation.
func FuzzField(f *testing.F) {
	f.Add("order_id", []byte(`{"order_id":"o-1"}`))
	f.Add("a.b", []byte(`{"a":{"b":["x","y"]}}`))
	f.Add("a", []byte(`{"a":1.5e400}`))
	f.Add("a..b", []byte(`{"a":{"":{"b":"z"}}}`))
	f.Add("", []byte(`{"":"x"}`))
	f.Add("a", []byte(`{"a":[1,null]}`))
	f.Fuzz(func(t *testing.T, path string, data []byte) {
		ids, err := Field(path)(streams.Event{Type: "x.y", Data: data})
		if err != nil {
			if !errors.Is(err, ErrAssociation) {
				t.Fatalf("error %v does not match ErrAssociation", err)
			}
			return
		}
		// What it found is what a plain decode of the data finds there.
		var v any
		if json.Unmarshal(data, &v) != nil {
			t.Fatalf("ids %q from data that is not JSON", ids)
		}
		for _, p := range strings.Split(path, ".") {
			v = v.(map[string]any)[p]
		}
		switch x := v.(type) {
		case string:
			if len(ids) != 1 || ids[0] != x {
				t.Fatalf("ids %q, the field holds %q", ids, x)
			}
		case []any:
			if len(ids) != len(x) {
				t.Fatalf("ids %q, the field holds %v", ids, x)
			}
		default:
			t.Fatalf("ids %q from a field holding %T", ids, v)
		}
	})
}

// Keys come from bucket listings and the command line: InstanceID never
// panics, and a key it accepts is the key of the id it returns.
func FuzzInstanceID(f *testing.F) {
	for _, seed := range []string{"o-1", "=dXNlckBleGFtcGxlLmNvbQ", "=", "=b3", "a.b", "", "==", "=_-_"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, err := InstanceID(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidInstance) {
				t.Fatalf("error %v does not match ErrInvalidInstance", err)
			}
			return
		}
		if InstanceKey(id) != key {
			t.Fatalf("InstanceID(%q) = %q, whose key is %q", key, id, InstanceKey(id))
		}
	})
}
