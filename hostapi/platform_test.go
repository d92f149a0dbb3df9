package hostapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wardenproject/warden/hostapi/internal/fsprov"
)

// The filesystem provider refuses to run where its protections do not exist
// (Windows; TestAttackFilesystemRefusedOnWindows drives it there). This part
// runs everywhere: the refusal is a denial, which call.fail records as the
// gate's deny decision, not an I/O error a plugin may retry past.
func TestUnsupportedOSIsADenial(t *testing.T) {
	herr := fsError(fmt.Errorf("the filesystem provider does not run on plan9 yet: %w", fsprov.ErrUnsupportedOS), "fs.read", "/x")
	if herr.Code != CodeDenied || !strings.Contains(herr.Message, "does not run on this operating system") {
		t.Fatalf("got %s %q, want a denial that says why", herr.Code, herr.Message)
	}
}
