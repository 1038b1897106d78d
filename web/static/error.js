// The error page a browser sees instead of the API's JSON when a link it
// followed failed (the server puts the error code in body[data-code]).
import { applyText, pickLang } from './i18n.js';
import { TEXT } from './locales.js';

const lang = pickLang();
const t = TEXT.error[lang];
applyText(t, lang);
document.title = t.title;
document.getElementById('error-text').textContent = t.codes[document.body.dataset.code] || t.generic;
