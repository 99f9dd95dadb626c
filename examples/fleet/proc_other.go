//go:build !linux

package main

import "os/exec"

// detach leaves cmd in the demo's process group elsewhere than on Linux:
// a replica still ends when its standard input closes with the demo.
func detach(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
