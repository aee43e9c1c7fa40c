// Package config owns jetflow's platform configuration: the typed Config
// with its defaults and validation, and the TuskLang documents (jetflow.tsk)
// it is read from and printed as.
//
// The TuskLang parser is our own and covers the subset jetflow documents in
// docs/configuration.md: comments, [section] and [section.name] headers,
// key: value and key = value, quoted strings, integers, floats, booleans,
// null, arrays, top-level $variables and @env("NAME", default). No
// maintained Go library exists for TuskLang, and a small parser lets every
// error carry its file:line:col and suggest the key the user meant.
//
// Settings are applied in layers, later layers winning:
//
//	Default() < file (Load) < JETFLOW_* environment (Load) < flags (Set)
//
// Load does not validate, so that flags set afterwards can still repair a
// value; call Validate once every layer is applied.
//
// A program adds sections of its own (Section: a struct with tsk tags) by
// loading with a Schema from NewSchema instead of the package's Load; the
// Config remembers its schema, so Set, ApplyEnv, Validate and Encode treat
// those sections as the platform's, and Config.Section returns their
// values. The platform's sections are built once from code; nothing
// registers into them.
package config
