package exporttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// goBlock matches a fenced Go block of a README.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// BuildREADME builds every Go block of the README.md in dir, the root of
// a module, as a program of that module, so that the setup an exporter's
// README shows compiles against the current code and the module's own
// requirements. Each block must be a whole file of package main. The
// blocks are placed under dir/testdata/readme through a build overlay:
// nothing is written to the tree. It returns the go command's output as
// the error when a block does not build.
func BuildREADME(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md")) //nolint:gosec // a test's own module directory, not outside input
	if err != nil {
		return err
	}
	blocks := goBlock.FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		return errors.New("README.md has no Go block")
	}
	tmp, err := os.MkdirTemp("", "readme")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	overlay := map[string]string{}
	var pkgs []string
	for i, m := range blocks {
		if !strings.HasPrefix(string(m[1]), "package main\n") {
			return fmt.Errorf("block %d of README.md is not a whole Go file of package main", i+1)
		}
		file := filepath.Join(tmp, fmt.Sprintf("block%d.go", i+1))
		if err := os.WriteFile(file, m[1], 0o600); err != nil { //nolint:gosec // a file of the temporary directory made above
			return err
		}
		pkg := fmt.Sprintf("testdata/readme/block%d", i+1)
		overlay[filepath.Join(dir, pkg, "main.go")] = file
		pkgs = append(pkgs, "./"+pkg)
	}
	spec, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		return err
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, spec, 0o600); err != nil {
		return err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command builds the blocks: %w", err)
	}
	// Built, not vetted: go vet would change into the packages'
	// directories, which exist only in the overlay.
	cmd := exec.Command(goCmd, append([]string{"build", "-overlay", overlayFile, "-o", os.DevNull}, pkgs...)...) //nolint:gosec // the go command on files this function wrote
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("README.md's Go blocks do not build: %w\n%s", err, out)
	}
	return nil
}
