// wagtail-dynchat loader, on every page: ≤ 2 KB gzipped. See docs/api.md, "The loader".
const D = document;
const enc = encodeURIComponent;
const debug = (err) => console.debug("dynchat:", err);
const chats = { __proto__: null }; // slug → Promise<handle>
let cfg, widget, armed; // armed: [slug, fire]

const store = (area, fn) => {
  try {
    return cfg.preview ? null : fn(window[area]);
  } catch {}
};

async function bootstrap(slug) {
  const res = await fetch(
    `${cfg.api}bootstrap?${slug ? `dialogue=${enc(slug)}&` : ""}${cfg.page == null ? "" : `page=${cfg.page}&`}url=${enc(location.href)}&ref=${enc(D.referrer)}`,
  );
  if (!res.ok) throw res.status;
  return res.json();
}

async function show(boot, options) {
  widget ||= Promise.all([
    import(cfg.widget),
    new Promise((done) =>
      D.head.append(Object.assign(D.createElement("link"), { rel: "stylesheet", href: cfg.css, onload: done, onerror: done })),
    ),
  ]);
  return (await widget)[0].mount(cfg, boot, options);
}

// The first trigger to fire wins and disarms all.
function arm(triggers, fire, since) {
  const off = new AbortController();
  const timers = [];
  const go = () => off.signal.aborted || (off.abort(), timers.map(clearTimeout), fire());
  const on = (target, type, fn) => target.addEventListener(type, fn, { signal: off.signal, passive: true, capture: true });
  const after = (ms, fn = go, i = timers.length) => (timers[i] = setTimeout(fn, ms));
  for (const { type, seconds, percent, selector } of triggers) {
    const ms = seconds * 1e3;
    if (type == "immediately") after(0);
    if (type == "time_on_page") after(ms - performance.now());
    if (type == "time_on_site") after(since + ms - Date.now());
    if (type == "scroll") {
      // Too short to scroll = 100 %.
      const check = () => {
        const max = D.documentElement.scrollHeight - innerHeight;
        if (max < 1 || (scrollY + 1) * 100 >= percent * max) go();
      };
      on(window, "scroll", check);
      D.readyState == "complete" ? after(0, check) : on(window, "load", check);
    }
    if (type == "exit_intent" && matchMedia("(pointer: fine)").matches) {
      on(D, "mouseout", (e) => e.relatedTarget || e.clientY > 0 || go());
    }
    if (type == "inactivity") {
      const i = timers.length;
      const reset = () => after(ms, go, i, clearTimeout(timers[i]));
      reset();
      for (const name of ["pointermove", "keydown", "scroll", "touchstart"]) on(D, name, reset);
    }
    if (type == "click") {
      on(D, "click", (e) => {
        try {
          e.target.closest(selector) && go();
        } catch {} // an invalid selector never fires
      });
    }
  }
  return go;
}

// Inline in `element`, else its chat on the page or a new pop-up: one chat per dialogue.
function open(slug, element) {
  if (armed?.[0] == slug) armed[1]();
  const chat = (chats[slug] ||= bootstrap(slug).then((boot) =>
    boot.dialogue ? show(boot, { mode: element ? "inline" : "popup", element }) : debug(`nothing to open: ${slug}`),
  ));
  return (element ? chat : chat.then((chat) => chat?.open())).catch((err) => debug(err, delete chats[slug]));
}

const since = () => +store("sessionStorage", (s) => (s["dynchat:since"] ||= Date.now())) || Date.now();

// start: false where consent may be needed.
async function chatbot(start) {
  const active = store("localStorage", (s) => s["dynchat:active"]);
  if (!cfg.bootstrap && !cfg.candidates && !active) return;
  const boot = cfg.bootstrap || (await bootstrap());
  if (active && !boot.conversation) store("localStorage", (s) => delete s["dynchat:active"]);
  const dialogue = boot.dialogue;
  if (!dialogue || chats[dialogue.slug]) return;
  armed = [
    dialogue.slug,
    arm(
      cfg.preview || boot.conversation || !dialogue.triggers ? [{ type: "immediately" }] : dialogue.triggers,
      () => (chats[dialogue.slug] = show(boot, { mode: "chatbot" }).catch(debug)),
      boot.consent ? performance.timeOrigin : start || since(),
    ),
  ];
}

const config = D.getElementById("dynchat-config");
if (config) {
  cfg = JSON.parse(config.textContent);
  (window.dynchat ||= {}).open = open;
  D.addEventListener("click", (e) => {
    const opener = e.target.closest?.('a[href^="#dynchat:"],[data-dynchat-open]');
    const slug = opener && (opener.dataset.dynchatOpen ?? decodeURIComponent(opener.hash.slice(9)));
    if (slug) {
      e.preventDefault();
      open(slug);
    }
  });
  for (const box of D.querySelectorAll("[data-dynchat-inline]")) box.dataset.dynchatInline && open(box.dataset.dynchatInline, box);
  chatbot(!cfg.consent && since()).catch(debug);
}
