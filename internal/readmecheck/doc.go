// Package readmecheck keeps the README honest: its test compiles every Go
// code block of README.md against the current code, so an example a
// reader copies builds as shown. The package holds only that test; it
// lives under internal/ because it is a check of the repository, not an
// example to read.
package readmecheck
