//go:build !webfake

package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// firefox is a headless Firefox driven over WebDriver BiDi, the W3C protocol
// Firefox speaks itself (--remote-debugging-port; no geckodriver needed):
// JSON commands and answers over one websocket. Only the few commands the
// tests use are here.
type firefox struct {
	t       *testing.T
	conn    *websocket.Conn
	context string // the top-level browsing context (the tab)

	mu     sync.Mutex
	nextID int
	stderr bytes.Buffer
}

// startFirefox starts the browser on a fresh profile and opens a BiDi
// session on its first tab. Everything ends with the test.
func startFirefox(t *testing.T, path string) *firefox {
	t.Helper()
	dir := t.TempDir()
	ff := &firefox{t: t}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", dir, "--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+dir, "MOZ_CRASHREPORTER_DISABLE=1")
	// Its own process group, so that ending it also ends its content processes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("firefox: %v", err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		if ff.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ff.callCtx(ctx, "browser.close", map[string]any{}) // its answer may never come: the browser is gone
			cancel()
			ff.conn.CloseNow()
		}
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	// Firefox says where it listens on stderr; the rest of stderr is kept
	// for the failure message.
	endpoint := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "WebDriver BiDi listening on "); ok {
				select {
				case endpoint <- strings.TrimSpace(rest):
				default:
				}
			}
			ff.mu.Lock()
			ff.stderr.WriteString(line + "\n")
			ff.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	var url string
	select {
	case url = <-endpoint:
	case <-exited:
		t.Fatalf("firefox exited before listening:\n%s", ff.output())
	case <-time.After(90 * time.Second): // a cold first start on a busy 2-core machine
		t.Fatalf("firefox did not start its WebDriver BiDi server:\n%s", ff.output())
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, url+"/session", nil)
	if err != nil {
		t.Fatalf("WebDriver BiDi at %s: %v", url, err)
	}
	conn.SetReadLimit(64 << 20) // screenshots arrive as one base64 message
	ff.conn = conn
	ff.call("session.new", map[string]any{"capabilities": map[string]any{}})
	var tree struct {
		Contexts []struct{ Context string }
	}
	ff.decode(ff.call("browsingContext.getTree", map[string]any{"maxDepth": 0}), &tree)
	if len(tree.Contexts) == 0 {
		t.Fatal("firefox has no tab")
	}
	ff.context = tree.Contexts[0].Context
	return ff
}

func (ff *firefox) output() string {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	return ff.stderr.String()
}

// call sends one command and returns its result; an error answer fails the
// test. Events (none are subscribed to) would be skipped.
func (ff *firefox) call(method string, params any) json.RawMessage {
	ff.t.Helper()
	ctx, cancel := context.WithTimeout(ff.t.Context(), 60*time.Second)
	defer cancel()
	res, err := ff.callCtx(ctx, method, params)
	if err != nil {
		ff.t.Fatalf("%s: %v\nfirefox stderr:\n%s", method, err, ff.output())
	}
	return res
}

func (ff *firefox) callCtx(ctx context.Context, method string, params any) (json.RawMessage, error) {
	ff.nextID++
	id := ff.nextID
	if err := wsjson.Write(ctx, ff.conn, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	for {
		var msg struct {
			Type    string
			ID      int
			Result  json.RawMessage
			Error   string
			Message string
		}
		if err := wsjson.Read(ctx, ff.conn, &msg); err != nil {
			return nil, err
		}
		if msg.Type == "event" || msg.ID != id {
			continue
		}
		if msg.Type == "error" {
			return nil, fmt.Errorf("%s: %s", msg.Error, msg.Message)
		}
		return msg.Result, nil
	}
}

func (ff *firefox) decode(raw json.RawMessage, v any) {
	ff.t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		ff.t.Fatalf("%v: %s", err, raw)
	}
}

// navigate loads url and returns once its load event has fired.
func (ff *firefox) navigate(url string) {
	ff.t.Helper()
	ff.call("browsingContext.navigate", map[string]any{"context": ff.context, "url": url, "wait": "complete"})
}

// waitFor runs the JavaScript expression cond in the page until it is
// truthy, for at most timeout, and returns its value as JSON. The waiting
// happens in the page (a check on every change of the document and every
// 25 ms for what a document observer cannot see, like the widget's shadow
// root), so it ends as soon as the condition holds.
func (ff *firefox) waitFor(what, cond string, timeout time.Duration) string {
	ff.t.Helper()
	fn := fmt.Sprintf(`() => new Promise((resolve, reject) => {
  const deadline = performance.now() + %d;
  const check = () => {
    let v;
    try { v = (%s); } catch (e) { v = undefined; }
    if (v) { observer.disconnect(); resolve(JSON.stringify(v)); return; }
    if (performance.now() > deadline) { observer.disconnect(); reject(new Error('timed out')); return; }
    setTimeout(check, 25);
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  check();
})`, timeout.Milliseconds(), cond)
	var out struct {
		Type   string
		Result struct {
			Type  string
			Value string
		}
		ExceptionDetails struct{ Text string }
	}
	ff.decode(ff.call("script.callFunction", map[string]any{
		"functionDeclaration": fn,
		"target":              map[string]any{"context": ff.context},
		"awaitPromise":        true,
	}), &out)
	if out.Type != "success" {
		ff.t.Fatalf("firefox: waiting for %s: %s", what, out.ExceptionDetails.Text)
	}
	return out.Result.Value
}

// screenshot saves what the tab shows as a PNG file.
func (ff *firefox) screenshot(file string) {
	ff.t.Helper()
	var out struct{ Data string }
	ff.decode(ff.call("browsingContext.captureScreenshot", map[string]any{"context": ff.context}), &out)
	data, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		ff.t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		ff.t.Fatal(err)
	}
}
