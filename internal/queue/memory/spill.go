package memory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"flashsale/internal/order"
)

// WriteSpill writes orders as JSON lines to path, atomically (a temporary
// file renamed into place, synced first), so that a crash while spilling
// never leaves a half-written file. With no orders it removes path.
func WriteSpill(path string, orders []order.Order) error {
	if len(orders) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove empty spill file: %w", err)
		}
		return nil
	}
	var buf bytes.Buffer
	for _, o := range orders {
		b, err := order.Marshal(o)
		if err != nil {
			return fmt.Errorf("spill %s: %w", o.ID, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write spill file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync spill file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close spill file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("spill file: %w", err)
	}
	return nil
}

// ReadSpill reads the orders spilled to path. A missing file holds no
// orders. A line that is not a valid order is an error naming its line
// number: a spill file is never half-read.
func ReadSpill(path string) ([]order.Order, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spill file: %w", err)
	}
	defer f.Close()
	var out []order.Order
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4*order.MaxBodyBytes)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		o, err := order.Unmarshal(line)
		if err != nil {
			return nil, fmt.Errorf("spill file %s line %d: %w", path, n, err)
		}
		out = append(out, o)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read spill file %s: %w", path, err)
	}
	return out, nil
}
