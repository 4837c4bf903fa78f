package engine

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/models"
)

// Recurrent layers are not attention: the engine refuses models that have
// them rather than run them as attention.
func TestNewShapeRefusesRecurrentLayers(t *testing.T) {
	for _, name := range []string{"mamba-2.8b", "rwkv6-7b", "jamba-v0.1", "based-1.3b"} {
		m, err := models.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		_, err = newShape(m.Arch)
		if err == nil || !strings.Contains(err.Error(), "attention-only") {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
	// An all-attention pattern is fine.
	m, err := models.Load("llama3.2-1b")
	if err != nil {
		t.Fatal(err)
	}
	a := m.Arch
	a.LayerPattern = "a"
	if _, err := newShape(a); err != nil {
		t.Errorf("pattern \"a\": %v", err)
	}
}
