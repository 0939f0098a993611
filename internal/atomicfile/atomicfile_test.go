package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: a file written over one others could read has the mode asked
// for and the new content; a write that fails leaves the old file as it
// was and no temporary file behind.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o644) // whatever the umask
	if err := Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if b, _ := os.ReadFile(path); string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Errorf("after Write: %q, mode %04o; want \"new\", 0600", b, fi.Mode().Perm())
	}
	failed := errors.New("cut short")
	if err := WriteFunc(path, 0o600, func(w io.Writer) error { w.Write([]byte("ha")); return failed }); !errors.Is(err, failed) {
		t.Fatalf("a failed write: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if b, _ := os.ReadFile(path); string(b) != "new" || len(entries) != 1 {
		t.Errorf("after a failed write: %q and %d files; want the old content alone", b, len(entries))
	}
}

// A path that ends in a slash names a folder: Write refuses it, and
// writes nothing (neither in the folder nor beside it). Relative paths
// are of the working directory.
func TestWriteFolderName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("out", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write("out/", []byte("x"), 0o600); err == nil {
		t.Error("Write(\"out/\") succeeded; want it refused")
	}
	if entries, _ := os.ReadDir("out"); len(entries) != 0 {
		t.Errorf("after Write(\"out/\"): %d files in out; want none", len(entries))
	}
	if err := Write("key.pem", []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "key.pem")); err != nil || string(b) != "k" {
		t.Errorf("Write(\"key.pem\"): %q, %v; want it in the working directory", b, err)
	}
}

// TestRemoveLeftoversKnowsWritesTemporaryFile: the temporary file a write
// goes through is one RemoveLeftovers would take for a leftover of its
// file (and of no other): a kill between its creation and its rename
// leaves nothing the next start does not find.
func TestRemoveLeftoversKnowsWritesTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	var tmp string
	err := WriteFunc(filepath.Join(dir, "key.pem"), 0o600, func(w io.Writer) error {
		tmp = filepath.Base(w.(*os.File).Name())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !isTemp(tmp, []string{"key.pem"}) || isTemp(tmp, []string{"key"}) || isTemp(tmp, []string{"ca.pem"}) {
		t.Errorf("temporary file %q not taken for key.pem's alone", tmp)
	}
}
