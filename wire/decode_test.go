package wire_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/jetflow/jetflow/wire"
)

// A command embedding a *pointer* to a shared struct: encoding/json
// promotes the pointed-to struct's fields exactly like a value embedding.
type ReviewExportedBase struct {
	Tenant string `json:"tenant"`
}

type reviewExportedPtrEmbed struct {
	*ReviewExportedBase
	Name string `json:"name"`
}

func TestDecodeStrictPromotesEmbeddedPointerFields(t *testing.T) {
	body := []byte(`{"tenant":"t1","name":"n"}`)
	// encoding/json itself accepts this body with unknown fields disallowed.
	var ref reviewExportedPtrEmbed
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ref); err != nil || ref.Tenant != "t1" {
		t.Fatalf("encoding/json reference: %v %+v", err, ref)
	}
	var v reviewExportedPtrEmbed
	if err := wire.DecodeStrict(body, &v); err != nil {
		t.Fatalf("DecodeStrict refused a body encoding/json accepts (embedded *struct field): %v", err)
	}
	if v.ReviewExportedBase == nil || v.Tenant != "t1" {
		t.Fatalf("tenant not decoded: %+v", v)
	}
}

// selfDecoding decodes itself with its own key names.
type selfDecoding struct {
	id string
}

func (c *selfDecoding) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	c.id = raw.ID
	return nil
}

func TestDecodeStrictLeavesKeysToACustomUnmarshaler(t *testing.T) {
	var v selfDecoding
	if err := wire.DecodeStrict([]byte(`{"id":"x"}`), &v); err != nil {
		t.Fatalf("DecodeStrict refused a body the type's own UnmarshalJSON accepts: %v", err)
	}
	if v.id != "x" {
		t.Fatalf("id = %q", v.id)
	}
}
