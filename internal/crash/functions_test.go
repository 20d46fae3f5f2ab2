package crash

import (
	"bufio"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pace-cli/pace/function/payload"
)

var update = flag.Bool("update", false, "add pace's function names to "+allowList)

// allowList is the receiver's list of the function names a crash site may
// hold: generated from pace's source, and kept as the union over releases
// (a name is added, never removed), so that sites of every release an
// install may still run are taken.
const allowList = "../../function/receiver/crashfunctions.txt"

const allowListHeader = `# Functions of pace's own code that a crash site may name (payload.ValidCrashSite):
# every declared function and method of both modules' packages, as the Go
# runtime names them within the module. Generated from the source and kept as
# the union over releases: names are added, never removed. Add this
# release's with:
#   go test ./internal/crash -run TestCrashFunctionsAllowList -update
`

// The receiver takes a crash site only when every frame names a function
// on its list: this keeps the list a superset of pace's functions, so a
// real crash is never refused.
func TestCrashFunctionsAllowList(t *testing.T) {
	declared := declaredFunctions(t, filepath.Join("..", ".."))
	listed := readAllowList(t)
	var missing []string
	for _, name := range declared {
		if _, ok := slices.BinarySearch(listed, name); !ok {
			missing = append(missing, name)
		}
	}
	if *update && len(missing) > 0 {
		all := append(slices.Clone(listed), missing...)
		slices.Sort(all)
		all = slices.Compact(all)
		if err := os.WriteFile(allowList, []byte(allowListHeader+strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		missing = nil
	}
	if len(missing) > 0 {
		t.Fatalf("%d functions of pace are not on %s; run\n  go test ./internal/crash -run TestCrashFunctionsAllowList -update\nmissing: %s", len(missing), allowList, strings.Join(missing[:min(len(missing), 20)], ", "))
	}
	for _, must := range []string{"internal/cli.crashTest", "internal/cli.newRoot", "internal/telemetry.(*Store).RecordRun", "function/payload.Decode", "internal/cli.init", "internal/crash.Site"} {
		if !slices.Contains(declared, must) {
			t.Errorf("%q is not among the declared functions", must)
		}
	}
	for _, name := range declared {
		frame := name + ":+1"
		if strings.HasSuffix(name, ".glob.") {
			frame = name + ".func1:+1"
		}
		if err := payload.ValidCrashSite(frame); err != nil {
			t.Errorf("a frame of %s would be refused: %v", name, err)
		}
	}
}

// readAllowList reads the list, sorted.
func readAllowList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(allowList)
	if os.IsNotExist(err) && *update {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(names) {
		t.Fatalf("%s is not sorted", allowList)
	}
	return names
}

// declaredFunctions lists every function and method declared in the
// non-test Go files under root (both modules), named as the runtime names
// them, within the module: "internal/cli.newRoot", "internal/x.(*T).M",
// "internal/x.T.M", type parameters left out. Each package also gets
// its init and glob. (package-level closures), which the compiler makes.
// Package main is left out: its frames are "main.…", never pace's.
func declaredFunctions(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "dist" || n == "bin" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		names = append(names, pkg+".init", pkg+".glob.")
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := pkg + "." + fn.Name.Name
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				name = pkg + "." + receiver(fn.Recv.List[0].Type) + "." + fn.Name.Name
			}
			if fn.Name.Name != "_" {
				names = append(names, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// receiver names a method's receiver type as the runtime does: T or (*T),
// without type parameters.
func receiver(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.StarExpr:
		return "(*" + receiver(x.X) + ")"
	case *ast.IndexExpr:
		return receiver(x.X)
	case *ast.IndexListExpr:
		return receiver(x.X)
	case *ast.Ident:
		return x.Name
	case *ast.ParenExpr:
		return receiver(x.X)
	}
	return "?"
}
