package deploy_test

import (
	"fmt"
	"os"
	"testing"
)

// Passwords the configurations read from the environment (see
// nats/accounts.conf). TestMain sets them once for the whole package, so the
// tests that load the configurations can run in parallel.
const (
	servicePassword = "service-test-pw"
	workerPassword  = "worker-test-pw"
	adminPassword   = "admin-test-pw"
	clientPassword  = "client-test-pw"
	sysPassword     = "sys-test-pw"
)

func TestMain(m *testing.M) {
	for name, value := range map[string]string{
		"JETFLOW_NATS_PASSWORD": servicePassword,
		"NATS_WORKER_PASSWORD":  workerPassword,
		"NATS_ADMIN_PASSWORD":   adminPassword,
		"NATS_CLIENT_PASSWORD":  clientPassword,
		"NATS_SYS_PASSWORD":     sysPassword,
	} {
		if err := os.Setenv(name, value); err != nil {
			fmt.Fprintln(os.Stderr, "deploy: set", name, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
