// The dashboard's credential when the server has authentication on: an API key or a JWT,
// asked for once and kept for this tab only (sessionStorage: gone when the tab closes, never
// sent to other sites, never in a URL). It travels as `Authorization: Bearer`, so the pages
// need no cookie, and a cross-site page has nothing to ride on.
const STORAGE_KEY = 'stagecast.token';
const required = document.body.dataset.auth === 'on';
/** Where the API is: /api for the service, the url_prefix of a host app that mounts Stagecast. */
export const API = document.body.dataset.api || '/api';
const dialog = document.getElementById('auth-dialog');

export function authHeaders() {
  const token = required ? sessionStorage.getItem(STORAGE_KEY) : null;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Forget a credential the server refused; the next call asks again. */
export function forgetToken() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Resolves once there is a credential (at once when authentication is off or one is kept). */
export function ensureToken(reason = '') {
  if (!required || sessionStorage.getItem(STORAGE_KEY)) return Promise.resolve();
  const form = dialog.querySelector('form');
  const input = dialog.querySelector('input');
  dialog.querySelector('.auth-reason').textContent = reason;
  input.value = '';
  return new Promise((resolve) => {
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        sessionStorage.setItem(STORAGE_KEY, token);
        dialog.close();
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

/** fetch() with the credential; on 401 asks for another one and tries once more. */
export async function authFetch(url, init = {}) {
  await ensureToken();
  const send = () => fetch(url, { ...init, headers: { ...init.headers, ...authHeaders() } });
  const response = await send();
  if (response.status !== 401 || !required) return response;
  forgetToken();
  await ensureToken('The server did not accept that key or token.');
  return send();
}
