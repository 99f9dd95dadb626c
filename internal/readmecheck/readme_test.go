package readmecheck

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// goBlock matches a fenced Go block of the README.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// Every Go block of README.md is a whole file; the test places each in a
// package of its own inside the module (through a build overlay, so
// nothing is written to the tree) and builds them all: go build for the
// programs, go test -c for the test files.
func TestREADMEGoBlocksCompile(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	blocks := goBlock.FindAllSubmatch(readme, -1)
	require.NotEmpty(t, blocks, "README.md has Go blocks")

	overlay := map[string]string{}
	var mains, tests []string
	tmp := t.TempDir()
	for i, m := range blocks {
		src := string(m[1])
		require.True(t, strings.HasPrefix(src, "package "), "block %d must be a whole file, starting with its package clause:\n%s", i+1, src)
		dir := fmt.Sprintf("internal/readmecheck/testdata/block%d", i+1)
		name := "block.go"
		if strings.Contains(strings.SplitN(src, "\n", 2)[0], "_test") {
			name = "block_test.go"
			tests = append(tests, "./"+dir)
		} else {
			mains = append(mains, "./"+dir)
		}
		file := filepath.Join(tmp, fmt.Sprintf("block%d.go", i+1))
		require.NoError(t, os.WriteFile(file, m[1], 0o600))
		overlay[filepath.Join(root, dir, name)] = file
	}
	spec, err := json.Marshal(map[string]any{"Replace": overlay})
	require.NoError(t, err)
	overlayFile := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(overlayFile, spec, 0o600))

	goCmd, err := exec.LookPath("go")
	require.NoError(t, err, "the go command runs the check")
	run := func(args ...string) {
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "README Go blocks do not build (go %s):\n%s", strings.Join(args, " "), out)
	}
	// Built, not run: go vet and go test would change into the packages'
	// directories, which exist only in the overlay.
	if len(mains) > 0 {
		run(append([]string{"build", "-overlay", overlayFile, "-o", os.DevNull}, mains...)...)
	}
	if len(tests) > 0 {
		run(append([]string{"test", "-vet=off", "-overlay", overlayFile, "-c", "-o", tmp + string(filepath.Separator)}, tests...)...)
	}
}
