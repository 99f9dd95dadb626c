// Package readme keeps the README honest: its test compiles every Go code
// block of README.md against the current code, so an example a reader
// copies builds as shown.
package readme
