//go:build !wasip1

package pdk

// hostCall has no host to reach in a native build; see the package doc.
func hostCall(token, method string, params []byte) ([]byte, error) {
	return nil, ErrNoHost
}
