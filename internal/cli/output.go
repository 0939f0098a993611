package cli

import (
	"errors"
	"os"

	"github.com/vnetgw/vnetgw/internal/atomicfile"
)

// saveOutput writes b to an --output-file: a file atomically, readable by
// its owner alone (it may hold decrypted traffic or a key); what is no
// file (/dev/stdout, a named pipe: stop --output-file /dev/stdout |
// tcpdump -r -) as it is, where no file could be made beside it.
func saveOutput(path string, b []byte) error {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		return errors.Join(err, f.Close())
	}
	return atomicfile.Write(path, b, 0o600)
}
