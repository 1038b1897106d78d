// The language of the pages (README.md, "Languages"): ?lang=zh|en or
// ?ui_locales= (an OIDC authorization request's, space-separated) first,
// then the language the reader chose before (remembered in localStorage),
// then the browser's languages: zh-* is Simplified Chinese, anything else
// English. A ?lang= choice is remembered; ui_locales is the relying party's
// and is not.
const STORE = 'scanlogin.lang';

function fromTags(tags) {
  for (const tag of tags) {
    const s = String(tag || '').trim().toLowerCase();
    if (s.startsWith('zh')) return 'zh';
    if (s.startsWith('en')) return 'en';
  }
  return '';
}

function stored() {
  try { return localStorage.getItem(STORE) || ''; } catch { return ''; }
}

/** pickLang returns 'zh' or 'en' for this page load. */
export function pickLang(params = new URLSearchParams(location.search)) {
  const asked = fromTags([params.get('lang')]);
  if (asked) {
    try { localStorage.setItem(STORE, asked); } catch { /* private mode */ }
    return asked;
  }
  const ui = fromTags(String(params.get('ui_locales') || '').split(/\s+/));
  if (ui) return ui;
  const prev = fromTags([stored()]);
  if (prev) return prev;
  return fromTags(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) || 'en';
}

/** htmlLang is the lang attribute for a language. */
export const htmlLang = (lang) => (lang === 'zh' ? 'zh-CN' : 'en');

/** applyText fills every [data-i18n] element with its string of t. */
export function applyText(t, lang, root = document) {
  document.documentElement.lang = htmlLang(lang);
  for (const n of root.querySelectorAll('[data-i18n]')) {
    const v = t[n.dataset.i18n];
    if (typeof v === 'string') n.textContent = v;
  }
  for (const n of root.querySelectorAll('[data-i18n-label]')) {
    const v = t[n.dataset.i18nLabel];
    if (typeof v === 'string') n.setAttribute('aria-label', v);
  }
}
