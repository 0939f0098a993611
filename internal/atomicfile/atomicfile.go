// Package atomicfile writes a file whole or not at all: through a new file
// in the same directory and a rename, so that a crash leaves the old file
// or the new one, never half of one; and with the mode asked for, also
// over a file that had a looser one (os.WriteFile keeps the old file's
// mode, which may let others read a key). The file and its directory
// are synced before Write returns.
package atomicfile

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Write writes data to path with mode.
func Write(path string, data []byte, mode fs.FileMode) error {
	return WriteFunc(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for content that write streams.
func WriteFunc(path string, mode fs.FileMode, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if base == "" {
		return fmt.Errorf("%s: a folder's name, not a file's", path)
	}
	root, err := os.OpenRoot(cmp.Or(dir, "."))
	if err != nil {
		return err
	}
	defer root.Close()
	return WriteIn(root, base, mode, write)
}

// WriteIn is WriteFunc for name (slash-separated, its folders there)
// under root: nothing is written outside root, a symbolic link on the way
// that leads out of it refused, even one made while WriteIn runs.
// Its errors name the file, root's path and name.
func WriteIn(root *os.Root, name string, mode fs.FileMode, write func(io.Writer) error) error {
	if err := writeIn(root, name, mode, write); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(root.Name(), filepath.FromSlash(name)), err)
	}
	return nil
}

func writeIn(root *os.Root, name string, mode fs.FileMode, write func(io.Writer) error) error {
	dir, base := path.Split(name)
	var tmp *os.File
	var tmpName string
	for {
		var err error
		tmpName = dir + tempName(base, rand.Text())
		tmp, err = root.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	defer root.Remove(tmpName)
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := root.Rename(tmpName, name); err != nil {
		return err
	}
	// The rename is in the directory: synced too, the file is there after
	// a power loss, not only its data somewhere (fsync(2)).
	d, err := root.Open(path.Clean(dir + "."))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// tempName is the name of a temporary file for base: hidden, with random
// (rand.Text) at the end.
func tempName(base, random string) string { return "." + base + "." + random }

// RemoveLeftovers removes from dir the temporary files that writes of the
// files named names left behind (their process killed between the
// temporary file's creation and its rename), if they were last modified
// before before, and returns their paths. Nothing else is touched: only
// regular files of that pattern, with the random part Write gives them.
func RemoveLeftovers(dir string, names []string, before time.Time) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTemp(e.Name(), names) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(before) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

// isTemp reports whether name is that of a temporary file for one of
// names.
func isTemp(name string, names []string) bool {
	for _, base := range names {
		random, ok := strings.CutPrefix(name, tempName(base, ""))
		if ok && len(random) == len(rand.Text()) && strings.Trim(random, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == "" {
			return true
		}
	}
	return false
}
