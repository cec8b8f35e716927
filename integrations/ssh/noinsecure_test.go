package ssh_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoHostKeyBypass fails if any Go file in the repository mentions the
// x/crypto callback that skips host key verification. A ChatOps bot with
// root on customer hosts must never trust whatever answers.
func TestNoHostKeyBypass(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Dir(self)
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatal("go.mod not found above " + filepath.Dir(self))
		}
		root = parent
	}
	// Spelled in two halves so this file does not match itself even if
	// the exclusion below were broken.
	needle := []byte("Insecure" + "IgnoreHostKey")
	scanned := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || path == self {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		if bytes.Contains(b, needle) {
			t.Errorf("%s uses %s: host keys must always be verified", path, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 5 {
		t.Fatalf("scanned only %d .go files under %s; the walk is broken", scanned, root)
	}
}
