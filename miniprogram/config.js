// The only settings the mini-program has. utils/request.js is the only file
// that reads apiBase; everything else passes API paths such as "/api/v1/mp/me".
//
// apiBase must be an HTTPS origin registered in the WeChat admin console under
// Development -> Development settings -> Server domains (both "request" and
// "uploadFile" lists), with no trailing slash and no path.
// For local development in DevTools only, "http://localhost:8080" works when
// "Do not verify legal domains ..." is ticked in Details -> Local settings.
module.exports = {
  apiBase: 'https://login.example.com',
  // Milliseconds before wx.request / wx.uploadFile give up.
  timeout: 15000,
  // A 429 whose Retry-After is at most this many seconds is retried once
  // automatically after waiting; longer waits are reported to the user.
  maxAutoRetryAfter: 5
}
