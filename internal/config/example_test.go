package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/jetflow/jetflow/internal/config"
)

// Load applies the file and then the environment; Set applies a flag over
// both; Validate checks the result.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "jetflow")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "jetflow.tsk")
	_ = os.WriteFile(path, []byte(`
$replicas: 3

[events]
replicas: $replicas

[topics.orders]
replicas = $replicas
backoff: ["1s", "10s"]

[log]
level: @env("LOG_LEVEL", "info")
`), 0o600)

	env := []string{"LOG_LEVEL=debug", "JETFLOW_TOPICS_ORDERS_MAX_RETRIES=5"}
	cfg, err := config.Load(path, env)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = cfg.Set("events.replicas", "5") // as a --replicas flag would
	fmt.Println(cfg.Events.Replicas, cfg.Log.Level, cfg.Topic("orders").MaxRetries, cfg.Topic("orders").Backoff)
	fmt.Println(cfg.Validate())
	// Output:
	// 5 debug 5 [1s 10s]
	// <nil>
}

func ExampleDecode_error() {
	_, err := config.Decode("jetflow.tsk", []byte("[events]\nreplica: 3\n"), nil)
	fmt.Println(err)
	// Output:
	// jetflow.tsk:2:1: unknown key "replica" in [events]; did you mean "replicas"?
}

func ExampleEncode() {
	cfg := config.Default()
	_ = cfg.Set("subscriptions.audit.subjects", "events.user.>")
	_ = cfg.Set("subscriptions.audit.webhook_url", "https://audit.example.com/in")
	doc, _ := config.Format(cfg)
	back, _ := config.Decode("check", doc, nil)
	fmt.Println(back.Subscriptions["audit"].Webhook.URL)
	// Output:
	// https://audit.example.com/in
}
