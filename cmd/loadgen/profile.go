package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// startProfiles fetches, from every server started here, a CPU profile and
// an allocation profile (the delta) of the measured window, in the
// background; the returned group ends when they are written to
// -profile. Without -profile it does nothing.
func startProfiles(ctx context.Context, cfg *config, cl *cluster, logs io.Writer) *sync.WaitGroup {
	var wg sync.WaitGroup
	if cfg.profileDir == "" || cl == nil {
		return &wg
	}
	if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
		fmt.Fprintln(logs, "loadgen: -profile:", err)
		return &wg
	}
	secs := strconv.Itoa(max(1, int(cfg.duration.Seconds())))
	for i, s := range cl.instances {
		for _, p := range []struct{ kind, path string }{
			{"cpu", "/debug/pprof/profile?seconds=" + secs},
			{"allocs", "/debug/pprof/allocs?seconds=" + secs},
		} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				file := filepath.Join(cfg.profileDir, fmt.Sprintf("server-%d.%s.pprof", i, p.kind))
				if err := fetchProfile(ctx, "http://"+s.debugAddr+p.path, file, cfg.duration); err != nil {
					fmt.Fprintf(logs, "loadgen: profile %s: %v\n", file, err)
				}
			}()
		}
	}
	return &wg
}

func fetchProfile(ctx context.Context, url, file string, window time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, window+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
