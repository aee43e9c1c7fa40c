package jetflow_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetflow/jetflow"
)

// ShopSettings is the [shop] section of a shop's jetflow.tsk.
type ShopSettings struct {
	WarehouseURL string `tsk:"warehouse_url" doc:"Where orders are sent."`
	MaxLines     int    `tsk:"max_lines" doc:"Most lines an order may have."`
}

// Validate is called whenever the configuration is loaded.
func (s ShopSettings) Validate() error {
	if s.MaxLines < 1 {
		return &jetflow.FieldError{Key: "max_lines", Err: fmt.Errorf("%d: must be at least 1", s.MaxLines)}
	}
	return nil
}

// A section of the application's own, read like jetflow's: here `jetflow
// config check` loads it and prints it with each key's meaning, default and
// variable; serve (or Run) loads it the same way before anything starts,
// and handlers read it with Get.
func ExampleSettings() {
	app := jetflow.New()
	shop := jetflow.Settings(app, "shop", ShopSettings{MaxLines: 100})

	dir, err := os.MkdirTemp("", "shop")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "jetflow.tsk")
	if err := os.WriteFile(file, []byte("[shop]\nmax_lines: 20\n"), 0o600); err != nil {
		fmt.Println(err)
		return
	}

	root := app.Command()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"config", "check", file})
	if err := root.Execute(); err != nil {
		fmt.Println(err)
		return
	}
	printed := out.String()
	fmt.Print(printed[strings.Index(printed, "[shop]"):])
	fmt.Println("max lines:", shop.Get().MaxLines)
	// Output:
	// [shop]
	// # Where orders are sent. Default ""; env JETFLOW_SHOP_WAREHOUSE_URL.
	// warehouse_url: ""
	// # Most lines an order may have. Default 100; env JETFLOW_SHOP_MAX_LINES.
	// max_lines:     20
	// max lines: 20
}
