package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// comparison is -mode compare's report: the same load with long polls and
// with the 1 s short-poll baseline, and how many times each cost of the
// baseline is the long poll's.
type comparison struct {
	LongPoll  *summary `json:"longpoll"`
	ShortPoll *summary `json:"shortpoll"`
	// Ratios are shortpoll / longpoll: above 1, long polling costs less.
	Ratios struct {
		BrowserRequestsPerLogin float64 `json:"browser_requests_per_login"`
		RedisCommandsPerLogin   float64 `json:"redis_commands_per_login"`
		ServerCPUPerLogin       float64 `json:"server_cpu_per_login"`
		LatencyP50              float64 `json:"confirm_to_delivery_p50"`
		LatencyP99              float64 `json:"confirm_to_delivery_p99"`
	} `json:"ratios_shortpoll_over_longpoll"`
}

func (c *comparison) ratios() {
	l, s := c.LongPoll, c.ShortPoll
	r := &c.Ratios
	r.BrowserRequestsPerLogin = ratio(s.BrowserReqsPerLog, l.BrowserReqsPerLog)
	r.RedisCommandsPerLogin = ratio(s.RedisCmdsPerLogin, l.RedisCmdsPerLogin)
	r.ServerCPUPerLogin = ratio(s.CPUPerLoginMs, l.CPUPerLoginMs)
	r.LatencyP50 = ratio(s.Latency.P50, l.Latency.P50)
	r.LatencyP99 = ratio(s.Latency.P99, l.Latency.P99)
}

// ratio is a/b, or 0 when b is not positive (not measured).
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func (c *comparison) print(w io.Writer) {
	l, s, r := c.LongPoll, c.ShortPoll, c.Ratios
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "per login\tlong poll\t1 s short poll\tratio\t")
	row := func(name, unit string, a, b, x float64) {
		fmt.Fprintf(tw, "%s\t%.2f%s\t%.2f%s\t%.1fx\t\n", name, a, unit, b, unit, x)
	}
	row("browser requests", "", l.BrowserReqsPerLog, s.BrowserReqsPerLog, r.BrowserRequestsPerLogin)
	row("Redis commands", "", l.RedisCmdsPerLogin, s.RedisCmdsPerLogin, r.RedisCommandsPerLogin)
	row("server CPU", " ms", l.CPUPerLoginMs, s.CPUPerLoginMs, r.ServerCPUPerLogin)
	row("delivery p50", " ms", l.Latency.P50, s.Latency.P50, r.LatencyP50)
	row("delivery p99", " ms", l.Latency.P99, s.Latency.P99, r.LatencyP99)
	fmt.Fprintf(tw, "logins/s\t%.1f\t%.1f\t\t\n", l.LoginsPerS, s.LoginsPerS)
	tw.Flush()
}
