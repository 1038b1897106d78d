package sqlstore_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/scanlogin/scanlogin/scanlogin/sqlstore"
)

// TestSharedSetting: the first value stored under a name wins, for every
// caller at once and for every store on the database afterwards.
func TestSharedSetting(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			s1 := open(t, url, sqlstore.Config{})
			s2 := open(t, url, sqlstore.Config{})
			const n = 16
			got := make([][]byte, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s := s1
					if i%2 == 1 {
						s = s2
					}
					v, err := s.SharedSetting(t.Context(), "dev_key", fmt.Appendf(nil, "value-%d", i))
					if err != nil {
						t.Error(err)
					}
					got[i] = v
				})
			}
			wg.Wait()
			for i := range n {
				if !bytes.Equal(got[i], got[0]) || len(got[0]) == 0 {
					t.Fatalf("callers disagree: %q vs %q", got[i], got[0])
				}
			}
			again, err := open(t, url, sqlstore.Config{}).SharedSetting(t.Context(), "dev_key", []byte("later"))
			if err != nil || !bytes.Equal(again, got[0]) {
				t.Fatalf("after reopening: %q %v, want %q", again, err, got[0])
			}
			if _, err := s1.SharedSetting(t.Context(), "", []byte("x")); err == nil {
				t.Fatal("empty name accepted")
			}
		})
	}
}
