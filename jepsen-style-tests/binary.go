package jepsen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NodePackage is the import path of the server binary under test. This
// module requires it as a tool (go.mod `tool` directive), so its
// dependencies are in this module's go.sum and it builds from here with the
// parent module substituted by the replace directive.
const NodePackage = "github.com/schedulezero/schedulezero/cmd/schedulezero"

// BuildBinary builds the schedulezero binary into dir and returns its path.
// It runs `go build` in this module (the working directory of `go test`).
// If that fails because this module's go.sum is stale (the parent module
// gained a dependency), it builds in the parent module instead and says so
// through logf: run `go mod tidy` in jepsen-style-tests/ to fix it.
func BuildBinary(ctx context.Context, dir string, logf func(string, ...any)) (string, error) {
	return buildPackage(ctx, dir, "schedulezero", NodePackage, "./cmd/schedulezero", logf)
}

// HandlerPackage is the import path of the test handler (szhandler
// --journal) that the fire workload dispatches to.
const HandlerPackage = "github.com/schedulezero/schedulezero/cmd/szhandler"

// BuildHandler builds szhandler into dir (the governor's BinDir) and
// returns its path, like BuildBinary.
func BuildHandler(ctx context.Context, dir string, logf func(string, ...any)) (string, error) {
	return buildPackage(ctx, dir, "szhandler", HandlerPackage, "./cmd/szhandler", logf)
}

func buildPackage(ctx context.Context, dir, name, pkg, parentPkg string, logf func(string, ...any)) (string, error) {
	out := filepath.Join(dir, name)
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("jepsen: build %s: %w", pkg, err)
	}
	first, err := goBuild(ctx, goBin, ".", out, pkg)
	if err == nil {
		return out, nil
	}
	if !strings.Contains(first, "go.sum") && !strings.Contains(first, "go mod tidy") {
		return "", fmt.Errorf("jepsen: go build %s: %w\n%s", pkg, err, first)
	}
	logf("jepsen-style-tests/go.mod is stale (%s); building in the parent module instead — run `go mod tidy` in jepsen-style-tests/",
		strings.TrimSpace(first))
	if second, err := goBuild(ctx, goBin, "..", out, parentPkg); err != nil {
		return "", fmt.Errorf("jepsen: go build %s in the parent module: %w\n%s", parentPkg, err, second)
	}
	return out, nil
}

func goBuild(ctx context.Context, goBin, workDir, out, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	cmd.Dir = workDir
	cmd.Env = os.Environ()
	b, err := cmd.CombinedOutput()
	return string(b), err
}
