package main

// -mode qrmodes: time to code, the two QR modes side by side (README.md,
// "QR modes"; docs/BENCHMARKS.md). Each mode runs on a scanlogin assembled
// in this process exactly as the binary assembles it (cmd/scanlogin/app,
// dev mode) on the private redis-server, with the fake WeChat answering
// getwxacodeunlimit after -wechat-latency. A browser's time to code is
// POST /api/v1/qr plus GET of its image, as the widget does before it shows
// the code.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/scanlogin/scanlogin/cmd/scanlogin/app"
)

// qrModeResult is one mode's time to code.
type qrModeResult struct {
	Mode           string  `json:"qr_mode"`
	WeChatLatency  string  `json:"wechat_latency"`
	Codes          int     `json:"codes"`
	Errors         int64   `json:"errors"`
	CodesPerS      float64 `json:"codes_per_s"`
	TimeToCode     latency `json:"time_to_code"`
	WeChatQRCalls  int     `json:"wechat_getwxacodeunlimit_calls"`
	ConcurrentUser int     `json:"concurrent_browsers"`
}

type qrModesSummary struct {
	Mode    string         `json:"mode"`
	WindowS float64        `json:"window_s"`
	Results []qrModeResult `json:"results"`
}

func runQRModes(ctx context.Context, cfg *config, stderr io.Writer) (*qrModesSummary, error) {
	dir, err := os.MkdirTemp("", "loadgen-qrmodes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rds, err := startRedis(dir, "everysec")
	if err != nil {
		return nil, err
	}
	defer rds.cmd.Process.Kill()
	sum := &qrModesSummary{Mode: "qrmodes", WindowS: cfg.duration.Seconds()}
	for _, mode := range []string{"wxacode", "link"} {
		fmt.Fprintf(stderr, "loadgen: qrmodes: %s (%d browsers, %s, WeChat latency %s)\n", mode, cfg.browsers, cfg.duration, cfg.wechatLatency)
		r, err := timeToCode(ctx, cfg, "redis://"+rds.addr, mode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mode, err)
		}
		sum.Results = append(sum.Results, *r)
	}
	fmt.Fprintf(stderr, "\n%-8s %10s %10s %10s %10s %8s %12s\n", "mode", "codes", "codes/s", "p50 ms", "p99 ms", "errors", "wechat calls")
	for _, r := range sum.Results {
		fmt.Fprintf(stderr, "%-8s %10d %10.0f %10.2f %10.2f %8d %12d\n", r.Mode, r.Codes, r.CodesPerS, r.TimeToCode.P50, r.TimeToCode.P99, r.Errors, r.WeChatQRCalls)
	}
	return sum, nil
}

// timeToCode runs one mode on a fresh instance for cfg.duration after
// cfg.warmup.
func timeToCode(ctx context.Context, cfg *config, redisURL, mode string) (*qrModeResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	rdb, err := app.OpenRedis(redisURL)
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer rdb.Close()
	off := app.Limits{CreatePerIP: app.LimitOff, LoginPerIP: app.LimitOff, ScanPerUser: app.LimitOff, PollPerScene: app.LimitOff}
	c := app.Config{Addr: ln.Addr().String(), PublicURL: base, RedisURL: redisURL, QRMode: mode, Limits: off, SceneTTL: cfg.sceneTTL}
	if mode == "link" {
		c.QRLinkPrefix = "https://login.example.com/s/"
	}
	actx, cancel := context.WithCancel(ctx)
	a, err := app.New(actx, c, app.Deps{Redis: rdb, Logger: slog.New(slog.DiscardHandler), SelfURL: base})
	if err != nil {
		cancel()
		ln.Close()
		return nil, err
	}
	a.SlowDevQRCodes(cfg.wechatLatency)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx, ln) }()
	defer func() {
		cancel()
		<-done
	}()
	if err := waitReady(ctx, base, 10*time.Second); err != nil {
		return nil, err
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.browsers, MaxConnsPerHost: cfg.browsers}, Timeout: 30 * time.Second}
	start := time.Now()
	measureFrom, end := start.Add(cfg.warmup), start.Add(cfg.warmup+cfg.duration)
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   int64
		wg     sync.WaitGroup
		qrFrom = -1
	)
	for range cfg.browsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				mu.Lock()
				if qrFrom < 0 && t0.After(measureFrom) {
					qrFrom = a.DevQRCodeCalls()
				}
				mu.Unlock()
				err := oneCode(ctx, hc, base)
				d := time.Since(t0)
				if !t0.After(measureFrom) {
					continue
				}
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	calls := a.DevQRCodeCalls() - max(qrFrom, 0)
	window := time.Since(measureFrom).Seconds()
	return &qrModeResult{
		Mode: mode, WeChatLatency: cfg.wechatLatency.String(), Codes: len(lat), Errors: errs,
		CodesPerS: float64(len(lat)) / window, TimeToCode: percentiles(lat), WeChatQRCalls: calls, ConcurrentUser: cfg.browsers,
	}, nil
}

// oneCode: a scene, then its image, read to the end.
func oneCode(ctx context.Context, hc *http.Client, base string) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/qr", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	var created struct {
		QRImageURL string `json:"qr_image_url"`
	}
	err = decodeBody(resp, &created)
	if err != nil || created.QRImageURL == "" {
		return fmt.Errorf("create: %v", err)
	}
	req, _ = http.NewRequestWithContext(ctx, "GET", created.QRImageURL, nil)
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || n == 0 {
		return fmt.Errorf("image: %d", resp.StatusCode)
	}
	return nil
}

func decodeBody(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
