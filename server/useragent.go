package server

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/mileusna/useragent"
)

// browserLabel turns the User-Agent of the browser that created a scene into
// the words the confirm page shows a person ("Chrome 124 · Windows 10/11"),
// computed here once so the mini-program and the phone simulator say the same
// thing. It is a hint for a human, never a security decision; "" when nothing
// is recognised (the clients then say "unknown browser" in their language).
//
// The browser sends its User-Agent, so an attacker chooses it: only names
// from the lists below ever reach the label, never text from the header, so
// a made-up agent cannot put its own words on the confirm page
// (docs/ARCHITECTURE.md#security). Product names stay as their makers spell
// them, in either language.
//
// Safari on an iPad (iPadOS 13 and later) sends the same User-Agent as Safari
// on a Mac, so it reads "Safari 17 · macOS": the header cannot tell them apart.
func browserLabel(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	ua := useragent.Parse(userAgent)
	browser := ""
	if m := weChatVersion.FindStringSubmatch(userAgent); m != nil {
		// WeChat's in-app browser also claims Safari (iOS) or Chrome
		// (Android), and the library reads it as either.
		browser = "WeChat " + m[1]
	} else if name, ok := browserNames[ua.Name]; ok {
		browser = name
		if major := majorVersion(ua.Version); major != "" {
			browser += " " + major
		}
	}
	parts := []string{}
	if browser != "" {
		parts = append(parts, browser)
	}
	if os := osLabel(ua, userAgent); os != "" {
		parts = append(parts, os)
	}
	return strings.Join(parts, " · ")
}

// weChatVersion finds WeChat's in-app browser and its major version.
var weChatVersion = regexp.MustCompile(`MicroMessenger/(\d+)`)

// browserNames maps the library's names to the ones shown; anything not
// listed is left out of the label.
var browserNames = map[string]string{
	useragent.Chrome:           "Chrome",
	useragent.HeadlessChrome:   "Headless Chrome",
	useragent.Firefox:          "Firefox",
	useragent.Safari:           "Safari",
	useragent.MobileSafari:     "Safari",
	useragent.Edge:             "Edge",
	useragent.Opera:            "Opera",
	useragent.OperaMini:        "Opera Mini",
	useragent.OperaTouch:       "Opera Touch",
	useragent.Vivaldi:          "Vivaldi",
	useragent.SamsungBrowser:   "Samsung Internet",
	useragent.InternetExplorer: "Internet Explorer",
	"UCBrowser":                "UC Browser",
	"MQQBrowser":               "QQ Browser",
	"QQBrowser":                "QQ Browser",
	"DingTalk":                 "DingTalk",
	"curl":                     "curl",
	"Wget":                     "Wget",
}

// windowsVersions names Windows NT versions; Windows 11 still says NT 10.0.
var windowsVersions = map[string]string{"10.0": "10/11", "6.3": "8.1", "6.2": "8", "6.1": "7"}

func osLabel(ua useragent.UserAgent, raw string) string {
	switch ua.OS {
	case useragent.Windows:
		if v, ok := windowsVersions[ua.OSVersion]; ok {
			return "Windows " + v
		}
		return "Windows"
	case useragent.IOS:
		name := "iOS"
		if ua.Device == "iPad" {
			name = "iPadOS"
		}
		if major := majorVersion(ua.OSVersion); major != "" {
			return name + " " + major
		}
		return name
	case useragent.Android:
		if strings.Contains(raw, "HarmonyOS") {
			return "HarmonyOS"
		}
		if major := majorVersion(ua.OSVersion); major != "" {
			return "Android " + major
		}
		return "Android"
	case useragent.MacOS:
		// Every Safari and Chrome on macOS 11 and later reports 10.15.7.
		return "macOS"
	case useragent.ChromeOS, useragent.CrOS:
		return "ChromeOS"
	case useragent.Linux:
		return "Linux"
	case useragent.FreeBSD:
		return "FreeBSD"
	case useragent.Harmony:
		return "HarmonyOS"
	}
	return ""
}

// majorVersion is "124" for "124.0.6367.60", "" for anything not a number.
func majorVersion(v string) string {
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 0 || len(major) > 6 {
		return ""
	}
	return major
}
