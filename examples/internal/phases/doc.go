// Package phases is the timed script of a demo's flaky dependency: a
// schedule of behaviours, each for a while, read from a flag such as
// "healthy=4s,down=6s,healthy=6s".
package phases
