// ES module entry for the scan-login widget: the same implementation as the
// classic /scanlogin.js (which this imports for its side effect), with the
// API origin defaulting to wherever this module was loaded from.
//
//   import { mount } from 'https://login.example.com/static/scanlogin.mjs';
//   mount(document.querySelector('#login'), { onSuccess(r) { ... } });
import './scanlogin.js';

const impl = globalThis.ScanLogin;
const origin = new URL(import.meta.url).origin;

export function mount(el, opts = {}) {
  return impl.mount(el, { ...opts, baseURL: opts.baseURL || origin });
}

export const ScanLoginError = impl.Error;
export const ScanLogin = Object.freeze({ mount, Error: impl.Error, locale: impl.locale, device: impl.device, strings: impl.strings });
export default ScanLogin;
