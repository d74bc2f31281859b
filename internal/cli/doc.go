// Package cli is the small command framework shared by the szctl and
// szcluster tools: a tree of commands parsed with spf13/pflag, the global
// --addr and -o flags (with SZ_ADDR), help output, one-line error
// reporting with exit codes, and table and JSON output helpers. The tools
// themselves live in the szctl and szcluster sub-packages; their mains in
// cmd/ only wire signals and the process environment.
package cli
