package trust

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// Fetch reads a signed document from src: an http:// or https:// URL, or a file
// path. Plain http is allowed because the document is signed and
// version-checked; transport security adds privacy, not integrity. At most
// 4 MiB is read. client nil means http.DefaultClient.
func Fetch(ctx context.Context, src string, client *http.Client) ([]byte, error) {
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		if client == nil {
			client = http.DefaultClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", src, err)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch %s: HTTP status %s", src, resp.Status)
		}
		return readLimited(resp.Body, src)
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("read %w", err)
	}
	defer f.Close()
	return readLimited(f, src)
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path)
}

func readLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDocSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxDocSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes: %w", name, maxDocSize, ErrFormat)
	}
	return data, nil
}
