"""The app's place in the page's address: the script :mod:`.voila_app` puts first in each app page, and the names
it shares with :mod:`gapps_runbook.notebook.app_pages` (which renders where the app is).

The kernel renders where the app is into a hidden widget (:data:`NAV_CLASS`: ``data-page``, ``data-profile``,
``data-mode``, ``data-waiting``); :data:`NAV_SCRIPT` follows it with the HTML History API
(``history.pushState``/``replaceState``, https://html.spec.whatwg.org/multipage/nav-history-apis.html), answers
the browser's Back and Forward (``popstate``) through a hidden text box (:data:`ASK_CLASS`), and asks before
the page is left while step 03 waits (``beforeunload``). Light on purpose: imported by the app's kernels.
"""

from __future__ import annotations

from typing import Literal

NAV_CLASS = "gapps-nav"
"""The hidden widget whose ``data-*`` say where the app is (page, profile, how the address follows, waiting)."""
ASK_CLASS = "gapps-nav-ask"
"""The hidden text box the page fills with its address after the browser's Back or Forward."""
NavMode = Literal["push", "replace", "keep"]
"""How the address follows a move: a new history entry (Back, Next), the current one rewritten (the first page,
a profile switch), or left as it is (the browser's own Back and Forward already changed it)."""

NAV_SCRIPT = r"""<script>
(() => {
  // The page's address follows the app (history.pushState/replaceState, the HTML History API), and the
  // browser's Back and Forward move the app: the kernel renders where it is into .gapps-nav; this script
  // writes its answer to a popstate into .gapps-nav-ask's input (a change event: ipywidgets' Text syncs it).
  if (window.gappsNav) return;
  window.gappsNav = true;
  let waiting = false, asked = false, seen = '';
  const follow = () => {
    const at = document.querySelector('.gapps-nav [data-page]');
    // Only a new word from the kernel counts: after Back or Forward the address is ahead of it until it answers.
    if (!at || at.outerHTML === seen) return;
    seen = at.outerHTML;
    waiting = at.dataset.waiting === '1';
    const query = new URLSearchParams(location.search);
    if (at.dataset.mode === 'keep' || (query.get('page') === at.dataset.page
                                        && query.get('profile') === at.dataset.profile)) return;
    query.set('page', at.dataset.page);
    query.set('profile', at.dataset.profile);
    const address = '?' + query.toString() + location.hash;
    if (at.dataset.mode === 'push') history.pushState(null, '', address);
    else history.replaceState(null, '', address);
  };
  new MutationObserver(follow).observe(document, {subtree: true, childList: true});
  let asks = 0;
  addEventListener('popstate', () => {
    const input = document.querySelector('.gapps-nav-ask input');
    if (!input) return;
    const query = new URLSearchParams(location.search);
    query.set('n', String(++asks));  // the same address twice is still two moves
    input.value = query.toString();
    input.dispatchEvent(new Event('change', {bubbles: true}));
  });
  // Registered before Voila's own beforeunload listener (this script is the head's first), which shuts the
  // kernel down at once: while step 03 waits, that must wait for the person's answer (pagehide, below).
  addEventListener('beforeunload', (event) => {
    asked = waiting;
    if (!waiting) return;
    event.stopImmediatePropagation();
    event.preventDefault();
    event.returnValue = '';
  });
  addEventListener('pagehide', () => {
    if (!asked) return;  // Voila's listener ran and shut the kernel down
    const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    const xsrf = document.cookie.match(/\b_xsrf=([^;]*)\b/);
    const form = new FormData();
    form.append('_xsrf', (xsrf && xsrf[1]) || '');
    navigator.sendBeacon(`${config.baseUrl}voila/api/shutdown/${config.kernelId}`, form);
  });
})();
</script>"""
"""The page's half of keeping the app's place, the first thing in the page's ``<head>``
(:class:`~gapps_runbook.runs.voila_app.AppPageHandler`). It names :data:`NAV_CLASS` and :data:`ASK_CLASS`."""
