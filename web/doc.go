// Package web owns the browser front end of scanlogin: the login page, the
// embeddable widget (scanlogin.js) that the page itself uses, and the
// dev-mode phone simulator that plays the mini-program's confirm page.
//
// The files are plain HTML, CSS and JavaScript modules with no build step,
// embedded into the binary and served by package server. This package knows
// nothing about the server: it only exposes the files. The pages talk to the
// HTTP API of README.md and nothing else (no CDN, no external fonts).
package web
