// wagtail-dynchat loader. It runs on every page, so it stays tiny and does nothing (no request at
// all) unless a dialogue may apply here: the page has candidates, or this browser remembers an
// active conversation to resume. The widget and its CSS are only fetched when a dialogue is shown.
// Protocol: docs/api.md.
const ACTIVE = "dynchat:active";

// Storage throws in some privacy modes and sandboxed frames: treat that as "nothing remembered".
function storage(fn) {
  try {
    return fn(localStorage);
  } catch {
    return null;
  }
}

async function bootstrap(cfg) {
  // The page id is left out off-Wagtail pages (null) so a remembered conversation can still resume.
  const page = cfg.page == null ? "" : `page=${encodeURIComponent(cfg.page)}&`;
  const res = await fetch(`${cfg.api}bootstrap?${page}url=${encodeURIComponent(location.href)}`, {
    credentials: "same-origin",
  });
  if (!res.ok) throw new Error(`bootstrap: HTTP ${res.status}`);
  return res.json();
}

function stylesheet(href) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  // Wait for the CSS so the launcher never flashes unstyled; a failed load must not block the chat.
  const loaded = new Promise((done) => {
    link.onload = link.onerror = done;
  });
  document.head.append(link);
  return loaded;
}

async function run() {
  const el = document.getElementById("dynchat-config");
  if (!el) return;
  const cfg = JSON.parse(el.textContent);
  // The admin preview passes its bootstrap inline and must not read or write the visitor's storage.
  const active = !cfg.preview && storage((s) => s.getItem(ACTIVE));
  if (!cfg.bootstrap && !cfg.candidates && !active) return;
  const boot = cfg.bootstrap || (await bootstrap(cfg));
  // A remembered conversation the server no longer returns has ended: stop bootstrapping for it.
  if (active && !boot.conversation) storage((s) => s.removeItem(ACTIVE));
  if (!boot.dialogue) return;
  const [widget] = await Promise.all([import(cfg.widget), stylesheet(cfg.css)]);
  widget.mount(cfg, boot);
}

run().catch((err) => console.debug("dynchat:", err));
