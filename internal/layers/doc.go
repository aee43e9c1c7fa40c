// Package layers owns the module's layering rules: which package may
// import which. It has no code; its test lists every package of the module
// with its layer and fails when an import runs from a lower layer to a
// higher one, when two libraries of one layer depend on each other, when
// an example (a package under examples/, or a test file of Example
// functions outside internal/) imports an internal package (a user could
// not copy it), or when a package has no layer yet (adding one is a
// decision, made here). docs/architecture.md explains the layers.
package layers
