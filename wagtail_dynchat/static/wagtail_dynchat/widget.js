// wagtail-dynchat widget, loaded by loader.js. Protocol, modes and the rules this file keeps
// (innerHTML for sanitised bot html only, strict CSP, consent): docs/api.md, "The widget".

const ACTIVE = "dynchat:active"; // localStorage: id of a conversation to resume on any page
const OPEN = "dynchat:open"; // sessionStorage: id of the conversation whose panel was left open
const SEEN = "dynchat:seen"; // localStorage: id of the conversation whose poke was seen

const floating = []; // chatbot and pop-up chats on this page, in mount order (launcher slots)
const mounted = new Map(); // dialogue id (floating) or host element (inline) → handle
let instances = 0;
// Starts run one at a time: two at once from a new browser would create two visitors.
let starting = Promise.resolve();
const waiting = new Set(); // chats showing the consent card
let audio; // AudioContext of the new-message sound

// English defaults; the server sends them in the page's language (widget_strings.py).
const STRINGS = {
  open: "Open chat: ",
  close: "Close chat",
  dismiss: "Dismiss message",
  region: "Chat",
  log: "Chat messages",
  you: "You:",
  send: "Send",
  skip: "Skip",
  choose: "Choose…",
  answer: "Your answer",
  newTab: "(opens in a new tab)",
  slow: "You're going a bit fast — please try again in a moment.",
  error: "Sorry, something went wrong. Please try again.",
  ended: "This conversation has ended.",
  latest: "Show the latest message",
  privacy: "Privacy policy",
  consent: "This chat sets a cookie and keeps what you tell it, so that we can answer you. Do you agree?",
  accept: "Accept and chat",
  decline: "No, thanks",
  declined: "Nothing was stored. You can open the chat again at any time.",
  started: "Conversation started",
};

// Input attributes per capture type; the browser picks the right keyboard and autofill.
const INPUTS = {
  email: { type: "email", autocomplete: "email", inputmode: "email", spellcheck: "false", autocapitalize: "off" },
  tel: { type: "tel", autocomplete: "tel", inputmode: "tel" },
  number: { type: "number", inputmode: "decimal" },
  date: { type: "date" },
  text: { type: "text" },
};

const ICON_CHAT =
  '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">' +
  '<path fill="currentColor" d="M6 3h12a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4V5a2 2 0 0 1 2-2z"/></svg>';
const ICON_CLOSE =
  '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">' +
  '<path d="M6 6l12 12M18 6L6 18" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"/></svg>';

// Element builder. Strings and nodes in `kids` are appended as text/nodes, never parsed as HTML.
export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  el.append(...kids.filter((kid) => kid != null));
  return el;
}

function svgButton(props, icon) {
  const button = h("button", { type: "button", ...props });
  button.innerHTML = icon; // constant markup, not data
  return button;
}

async function fetchBootstrap(cfg, slug) {
  const enc = encodeURIComponent;
  const query =
    (slug ? `dialogue=${enc(slug)}&` : "") +
    (cfg.page == null ? "" : `page=${enc(cfg.page)}&`) +
    `url=${enc(location.href)}&ref=${enc(document.referrer)}`;
  const res = await fetch(`${cfg.api}bootstrap?${query}`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`bootstrap: HTTP ${res.status}`);
  return res.json();
}

class Chat {
  constructor(cfg, boot, options) {
    const setup = boot.setup || {};
    this.cfg = cfg;
    this.t = { ...STRINGS, ...setup.strings };
    this.look = setup.look || {};
    this.lang = setup.lang || cfg.lang;
    this.dir = setup.dir;
    this.consent = boot.consent; // {text}: ask before anything is stored
    this.dialogue = boot.dialogue;
    this.slug = boot.dialogue.slug;
    this.conv = boot.conversation || null;
    this.mode = options.mode || "chatbot";
    this.inline = this.mode === "inline";
    this.host = options.element || document.body;
    // Element ids: the chatbot keeps the historic ones, other chats add their instance number.
    instances += 1;
    this.sfx = this.mode === "chatbot" ? "" : `-${instances}`;
    this.isOpen = false;
    this.busy = false;
    this.seq = 0;
    this.prompts = new Map(); // card id → latest prompt element, which labels the choice group
  }

  async start() {
    if (this.consent) {
      this.conv = { id: "", status: "pending", step: 0 };
      this.build();
      this.host.append(this.root);
      this.askConsent();
      if (this.inline || this.cfg.preview) this.open(false);
      return;
    }
    await this.begin();
  }

  async begin() {
    const resumed = Boolean(this.conv?.id);
    if (!resumed) {
      const body = { dialogue: this.dialogue.id, page: this.cfg.page, url: location.href };
      if (this.mode !== "chatbot") body.mode = this.mode; // explicitly opened: no page targeting
      const posted = starting.then(() => this.post("conversations", body));
      starting = posted.catch(() => {});
      const res = await posted;
      if (!res.ok) throw new Error(`start: HTTP ${res.status}`);
      this.conv = (await res.json()).conversation;
    }
    if (this.conv.dialogue) this.dialogue = this.conv.dialogue;
    if (!this.root) {
      this.build();
      this.redraw();
      this.host.append(this.root);
    } else this.redraw(); // after consent
    this.changed(resumed ? this.conv : null, false);
    if (this.isOpen) return; // consent was just given in the open chat

    const active = this.conv.status === "active";
    if (this.inline || this.cfg.preview || (resumed && active && this.read("sessionStorage", OPEN) === this.conv.id)) {
      this.open(false); // shown (or restored) without stealing focus from the page
    } else if (
      this.mode === "chatbot" &&
      active &&
      this.dialogue.teaser &&
      this.read("localStorage", SEEN) !== this.conv.id &&
      (this.look.pokeMobile !== false || !matchMedia("(max-width: 30em)").matches)
    ) {
      this.showPoke();
    }
  }

  build() {
    const t = this.t;
    const look = this.look;
    const title = this.dialogue.title || this.dialogue.name || "";
    // The dialogue may be in another language than the page (a locale fallback).
    const lang = this.dialogue.lang !== this.lang && this.dialogue.lang;
    this.contentLang = lang || null;
    const panelId = `dynchat-panel${this.sfx}`;
    const titleId = `dynchat-title${this.sfx}`;
    this.launcher = this.inline
      ? null
      : svgButton(
          {
            class: "dynchat-launcher",
            "aria-label": t.open + title,
            "aria-expanded": "false",
            "aria-controls": panelId,
            onclick: () => (this.isOpen ? this.close() : this.open(true)),
          },
          ICON_CHAT,
        );
    this.log = h("div", {
      class: "dynchat-log",
      id: `dynchat-log${this.sfx}`,
      role: "log",
      "aria-live": "polite",
      "aria-label": t.log,
      tabindex: "0", // the log scrolls: keyboard users must be able to scroll it
    });
    if (look.scrollButton !== false) {
      this.latest = h("button", { type: "button", class: "dynchat-latest", hidden: true, onclick: () => this.toLatest() }, t.latest);
      this.log.addEventListener("scroll", () => (this.latest.hidden = this.atEnd()), { passive: true });
    }
    this.controls = h("div", { class: "dynchat-controls", hidden: true });
    // Inline, the panel is a named region of the page; floating, a non-modal dialog.
    this.panel = h(
      "div",
      {
        class: "dynchat-panel",
        id: panelId,
        role: this.inline ? "region" : "dialog",
        "aria-labelledby": titleId,
        hidden: true,
      },
      h(
        "div",
        { class: "dynchat-header" },
        look.avatar && h("img", { class: "dynchat-avatar", src: look.avatar, alt: "", width: 32, height: 32 }),
        h("h2", { class: "dynchat-title", id: titleId, lang: look.name ? null : this.contentLang }, look.name || title),
        this.inline
          ? null
          : svgButton({ class: "dynchat-close", "aria-label": t.close, onclick: () => this.close() }, ICON_CLOSE),
      ),
      this.log,
      this.latest,
      this.controls,
      look.privacy && h("p", { class: "dynchat-footer" }, this.privacyLink()),
    );
    // Floating: a landmark named after its dialogue (several stay distinguishable).
    this.root = h(
      this.inline ? "div" : "aside",
      {
        class: "dynchat",
        "aria-label": this.inline ? null : `${t.region}: ${title}`,
        lang: this.lang,
        dir: this.dir,
        "data-dynchat-mode": this.mode,
        "data-position": look.position,
        "data-dialogue": this.dialogue.id,
        "data-slug": this.slug,
      },
      this.launcher,
      this.panel,
    );
    if (!this.inline) {
      this.root.addEventListener("keydown", (event) => this.onKeydown(event));
      // Launcher slots along the bottom edge, in mount order.
      this.root.style.setProperty("--_slot", floating.push(this) - 1);
    }
    this.applyTheme();
  }

  // The site's branding through the CSSOM, which a strict CSP allows (style="" it would not).
  applyTheme() {
    for (const [name, value] of Object.entries(this.look.theme || {})) {
      this.root.style.setProperty(`--dynchat-${name}`, value);
    }
  }

  privacyLink() {
    return h(
      "a",
      { class: "dynchat-privacy", href: this.look.privacy, target: "_blank", rel: "noopener" },
      this.t.privacy,
      h("span", { class: "dynchat-vh" }, ` ${this.t.newTab}`),
    );
  }

  askConsent() {
    const t = this.t;
    waiting.add(this);
    this.root.dataset.status = "consent";
    this.log.append(
      h(
        "div",
        { class: "dynchat-item dynchat-bot", "data-kind": "consent" },
        this.consent.text || t.consent,
        this.look.privacy && h("p", {}, this.privacyLink()),
      ),
    );
    this.controls.dataset.key = "consent";
    this.controls.hidden = false;
    this.controls.append(
      h(
        "div",
        { class: "dynchat-buttons" },
        h("button", { type: "button", class: "dynchat-skip", onclick: () => this.decline() }, t.decline),
        h("button", { type: "button", class: "dynchat-send", onclick: () => this.accept() }, t.accept),
      ),
    );
  }

  async accept() {
    this.setBusy(true);
    try {
      const res = await this.post("consent", { accept: true });
      if (!res.ok) throw res.status;
    } catch (err) {
      return this.failed(this.t.error, document.activeElement);
    }
    // One answer for the whole page: every chat still asking goes on.
    for (const chat of waiting) chat.consented(chat === this);
  }

  async consented(focus) {
    waiting.delete(this);
    this.consent = null;
    this.conv = null;
    try {
      await this.begin();
    } catch (err) {
      return this.failed(this.t.error);
    }
    this.setBusy(false);
    if (focus) this.focusAwaited();
  }

  // The panel stays open, so the visitor sees (and hears) that nothing was kept.
  decline() {
    if (!this.declined) this.system(this.t.declined);
    this.declined = true;
    this.log.focus();
  }

  // Opening an open chat moves focus into it.
  open(moveFocus) {
    if (!this.isOpen) {
      this.isOpen = true;
      this.panel.hidden = false;
      this.launcher?.setAttribute("aria-expanded", "true");
      this.root.classList.add("dynchat-is-open");
      this.dismissPoke();
      if (this.conv.status === "active") this.write("sessionStorage", OPEN, this.conv.id);
      this.log.scrollTop = this.log.scrollHeight;
      // One floating panel at a time: they share the corner.
      if (!this.inline) for (const other of floating) if (other !== this) other.close(true);
    }
    if (moveFocus) this.focusAwaited();
  }

  // `quiet`: collapsed because another floating chat opened, not closed by the visitor.
  close(quiet) {
    if (!this.isOpen || this.inline) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.root.classList.remove("dynchat-is-open");
    if (this.read("sessionStorage", OPEN) === this.conv.id) this.write("sessionStorage", OPEN, null);
    if (quiet) return;
    this.launcher.focus();
    if (this.conv.id) this.fire(`conversations/${encodeURIComponent(this.conv.id)}/close`, {});
    this.emit("closed");
  }

  showPoke() {
    const t = this.t;
    this.poke = h(
      "div",
      { class: "dynchat-poke" },
      h("button", { type: "button", class: "dynchat-poke-text", lang: this.contentLang, onclick: () => this.open(true) }, this.dialogue.teaser),
      svgButton({ class: "dynchat-poke-close", "aria-label": t.dismiss, onclick: () => this.dismissPoke(true) }, ICON_CLOSE),
    );
    this.root.prepend(this.poke);
    this.ding();
  }

  // The poke shows once per conversation: opening the chat or dismissing it both count as seen.
  dismissPoke(refocus) {
    if (!this.poke) return;
    const hadFocus = this.poke.contains(document.activeElement);
    this.poke.remove();
    this.poke = null;
    this.write("localStorage", SEEN, this.conv.id);
    if (refocus || hadFocus) this.launcher.focus();
  }

  onKeydown(event) {
    if (event.key !== "Escape") return;
    if (this.isOpen && (this.panel.contains(event.target) || event.target === this.launcher)) {
      event.preventDefault();
      this.close();
    } else if (this.poke && this.poke.contains(event.target)) {
      this.dismissPoke(true);
    }
  }

  redraw() {
    this.prompts.clear();
    this.log.replaceChildren();
    const started = this.conv.started;
    if (started) {
        const when = new Intl.DateTimeFormat(this.lang, { dateStyle: "medium", timeStyle: "short" });
      this.log.append(
        h("p", { class: "dynchat-started" }, `${this.t.started} `, h("time", { datetime: started }, when.format(new Date(started)))),
      );
    }
    this.append(this.conv.items || [], false);
    delete this.controls.dataset.key; // force the controls to be rebuilt
    this.renderControls();
    this.root.dataset.status = this.conv.status;
    this.root.dataset.conversation = this.conv.id;
  }

  append(items, animate) {
    const added = [];
    for (const item of items) {
      const el = this.renderItem(item);
      if (!el) continue;
      if (animate) el.classList.add("dynchat-new");
      this.log.append(el);
      added.push(el);
    }
    // Show the start of what was added; the browser clamps this to the bottom when it fits.
    if (added.length) this.log.scrollTop = added[0].offsetTop - 8;
    return added;
  }

  renderItem(item) {
    const text = item.text == null ? "" : String(item.text);
    let el;
    if (item.kind === "answer") {
      el = h("div", { class: "dynchat-item dynchat-visitor" }, h("span", { class: "dynchat-vh" }, `${this.t.you} `), text);
    } else if (item.kind === "retry") {
      el = h("div", { class: "dynchat-item dynchat-bot dynchat-retry", id: this.id() }, text);
    } else if (item.kind === "end") {
      el = h("div", { class: "dynchat-item dynchat-end" }, text);
    } else if (item.html != null) {
      const body = h("div", { class: "dynchat-html", lang: this.contentLang });
      body.innerHTML = item.html; // bot rich text, sanitised server-side
      el = h("div", { class: "dynchat-item dynchat-bot" }, body);
      if (item.kind === "document" && item.url) el.append(this.documentLink(item));
      if (item.kind === "question" || item.kind === "capture") {
        body.id = this.id();
        this.prompts.set(item.card, body);
      }
    } else {
      return null; // a kind this widget does not know and cannot show
    }
    el.dataset.kind = item.kind;
    if (item.card) el.dataset.card = item.card;
    return el;
  }

  // Bot messages arrive one by one after the site's response delay, behind a typing indicator.
  async reveal(items) {
    const added = [];
    for (const item of items) {
      if (this.look.delay && item.kind !== "answer") await this.typing(this.look.delay);
      added.push(...this.append([item], true));
    }
    if (added.some((el) => el.dataset.kind !== "answer")) this.ding();
    return added;
  }

  typing(ms) {
    const dots =
      this.look.typing !== false &&
      this.log.appendChild(h("div", { class: "dynchat-typing", "aria-hidden": "true" }, h("span"), h("span"), h("span")));
    if (dots) this.log.scrollTop = this.log.scrollHeight;
    return new Promise((done) => setTimeout(() => done(dots && dots.remove()), ms));
  }

  // Synthesised: no file to fetch. Silent until the visitor interacts (autoplay rules).
  ding() {
    const sound = this.look.sound;
    if (!sound) return;
    try {
      const osc = (audio ||= new AudioContext()).createOscillator();
      const gain = audio.createGain();
      const now = audio.currentTime;
      osc.frequency.value = sound === "pop" ? 440 : 880;
      gain.gain.setValueAtTime(0.15, now);
      gain.gain.exponentialRampToValueAtTime(0.001, now + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(now + 0.4);
    } catch {}
  }

  atEnd() {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 24;
  }

  toLatest() {
    this.log.focus(); // the button hides once scrolled: keep focus in the chat
    this.log.scrollTop = this.log.scrollHeight;
  }

  documentLink(item) {
    return h(
      "a",
      {
        class: "dynchat-doc",
        href: item.url,
        target: "_blank",
        rel: "noopener",
        onclick: () => this.fire(`conversations/${encodeURIComponent(this.conv.id)}/events`, {
          kind: "document_opened",
          card: item.card,
        }),
      },
      item.title || item.url,
      h("span", { class: "dynchat-vh" }, ` ${this.t.newTab}`),
    );
  }

  system(message) {
    const el = h("div", { class: "dynchat-item dynchat-system", "data-kind": "system" }, message);
    this.log.append(el);
    this.log.scrollTop = this.log.scrollHeight;
  }

  // Rebuilds the controls for a newly awaited card; false for a retry (keeps what was typed),
  // unless forced (a meeting card's times changed).
  renderControls(force) {
    const awaiting = this.conv.status === "active" ? this.conv.awaiting : null;
    const key = awaiting ? `${awaiting.card}@${this.conv.step}` : "";
    if (!force && this.controls.dataset.key === key) return false;
    this.controls.dataset.key = key;
    const item = awaiting && this.awaitedItem();
    let ui = null;
    if (item?.kind === "question") ui = this.choices(item);
    else if (item?.kind === "capture") ui = this.form(item);
    else if (item?.kind === "meeting") {
      // A module of its own: only meeting cards need it.
      ui = h("div", { class: "dynchat-meeting" });
      import(new URL("meeting.js", import.meta.url)).then((m) => m.render(this, item, ui), console.debug);
    }
    this.controls.replaceChildren(...(ui ? [ui] : []));
    this.controls.hidden = !ui;
    this.controls.dataset.kind = ui ? item.kind : "";
    this.controls.dataset.card = ui ? item.card : "";
    return true;
  }

  awaitedItem() {
    const card = this.conv.awaiting?.card;
    const items = this.conv.items || [];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if (item.card === card && ["question", "capture", "meeting"].includes(item.kind)) return item;
    }
    return null;
  }

  choices(item) {
    return h(
      "div",
      { class: "dynchat-choices", role: "group", "aria-labelledby": this.prompts.get(item.card)?.id },
      ...(item.choices || []).map((choice) =>
        h(
          "button",
          { type: "button", class: "dynchat-choice", "data-index": choice.index, onclick: () => this.answer(choice.index) },
          String(choice.label),
        ),
      ),
    );
  }

  form(item) {
    const t = this.t;
    const id = this.id();
    const field =
      item.input === "select"
        ? h(
            "select",
            { class: "dynchat-input", id, name: "value", required: item.required },
            h("option", { value: "" }, item.placeholder || t.choose),
            ...(item.options || []).map((option) => h("option", { value: option.value }, String(option.label))),
          )
        : h("input", {
            class: "dynchat-input",
            id,
            name: "value",
            ...(INPUTS[item.input] || INPUTS.text),
            placeholder: item.placeholder || null,
            required: item.required,
          });
    // novalidate: the server's retry message, not the browser's bubble.
    const form = h(
      "form",
      { class: "dynchat-form", novalidate: true, "data-input": item.input },
      h("label", { class: "dynchat-label", for: id }, item.label || t.answer),
      field,
      h(
        "div",
        { class: "dynchat-buttons" },
        item.required ? null : h("button", { type: "button", class: "dynchat-skip", onclick: () => this.answer(null) }, t.skip),
        h("button", { type: "submit", class: "dynchat-send" }, t.send),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.answer(field.value);
    });
    return form;
  }

  focusAwaited() {
    const control = this.controls.querySelector(".dynchat-input, .dynchat-choice");
    (control || this.log).focus();
  }

  setBusy(busy) {
    this.busy = busy;
    this.panel.toggleAttribute("data-busy", busy);
    for (const el of this.controls.querySelectorAll("button, input, select")) el.disabled = busy;
  }

  async answer(value) {
    const prev = this.conv;
    if (this.busy || !prev.awaiting) return;
    const asked = this.awaitedItem();
    const focused = document.activeElement;
    this.setBusy(true);
    let data;
    try {
      const res = await this.post(`conversations/${encodeURIComponent(prev.id)}/answers`, {
        step: prev.step,
        card: prev.awaiting.card,
        value,
        mode: this.mode, // where it is answered first decides whether it follows the visitor
      });
      if (res.status === 409) return await this.resync(); // answered elsewhere (another tab)
      if (!res.ok) return this.failed(res.status === 429 ? this.t.slow : this.t.error, focused);
      data = await res.json();
    } catch (err) {
      console.debug("dynchat:", err);
      return this.failed(this.t.error, focused);
    }
    this.conv = data.conversation;
    const added = await this.reveal(data.items || []);
    const kept = !this.renderControls(asked?.kind === "meeting");
    this.setBusy(false);
    if (kept) this.markInvalid(added.find((el) => el.dataset.kind === "retry"));
    this.root.dataset.status = this.conv.status;
    const emailAccepted = asked?.kind === "capture" && asked.input === "email" && value != null && value !== "";
    this.changed(prev, emailAccepted);
    this.focusAwaited();
  }

  markInvalid(retry) {
    const input = this.controls.querySelector(".dynchat-input");
    if (!input || !retry) return;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", retry.id);
  }

  failed(message, focused) {
    this.system(message);
    this.setBusy(false);
    if (focused && focused.isConnected) focused.focus();
  }

  // After a 409 the server knows better: redraw the whole transcript from a fresh bootstrap.
  async resync() {
    const prev = this.conv;
    try {
      // The chatbot resumes through the page's bootstrap, other chats through their dialogue's.
      const conv = (await fetchBootstrap(this.cfg, this.mode === "chatbot" ? null : this.slug)).conversation;
      if (conv && conv.id === prev.id) {
        this.conv = conv;
        this.redraw();
      } else {
        // Completed or expired meanwhile (e.g. finished in another tab).
        this.conv = { ...prev, status: "closed", awaiting: null };
        this.renderControls();
        this.system(this.t.ended);
        this.root.dataset.status = this.conv.status;
      }
    } catch (err) {
      console.debug("dynchat:", err);
      this.system(this.t.error);
    }
    this.setBusy(false);
    this.remember(); // no events: the tab that got the answer through already emitted them
    this.focusAwaited();
  }

  // Storage and analytics events of a transition; `prev` is null at the start.
  changed(prev, emailAccepted) {
    const conv = this.conv;
    this.remember();
    if (!prev) this.emit("triggered");
    else if (conv.step > prev.step) {
      if (!prev.step) this.emit("engaged");
      if (emailAccepted) this.emit("email-captured");
    }
    if (conv.status === "completed" && prev?.status !== "completed") this.emit("completed");
  }

  // While active, every page resumes it (the loader checks ACTIVE).
  remember() {
    const id = this.conv.id;
    if (this.conv.status === "active") return this.write("localStorage", ACTIVE, id);
    if (this.read("localStorage", ACTIVE) === id) this.write("localStorage", ACTIVE, null);
    if (this.read("sessionStorage", OPEN) === id) this.write("sessionStorage", OPEN, null);
  }

  id() {
    this.seq += 1;
    return `dynchat${this.sfx}-${this.seq}`;
  }

  post(path, body, keepalive = false) {
    const headers = { "Content-Type": "application/json" };
    if (this.cfg.csrf) headers["X-CSRFToken"] = this.cfg.csrf;
    return fetch(this.cfg.api + path, {
      method: "POST",
      credentials: "same-origin",
      headers,
      body: JSON.stringify(body),
      keepalive,
    });
  }

  // Fire-and-forget: keepalive lets the request outlive a navigation (document links, page exit).
  fire(path, body) {
    this.post(path, body, true).catch((err) => console.debug("dynchat:", err));
  }

  emit(name) {
    const detail = { dialogue: this.dialogue.id, conversation: this.conv.id };
    document.dispatchEvent(new CustomEvent(`dynchat:${name}`, { detail: { ...detail, mode: this.mode } }));
    // The admin preview records nothing, so it must not feed the site's analytics either.
    if (!this.cfg.preview && typeof window.dataLayer?.push === "function") {
      window.dataLayer.push({ event: `dynchat:${name}`, ...detail });
    }
  }

  // Storage throws in some privacy modes; previews and inline chats leave it alone.
  read(area, key) {
    if (this.cfg.preview || this.inline) return null;
    try {
      return window[area].getItem(key);
    } catch {
      return null;
    }
  }

  write(area, key, value) {
    if (this.cfg.preview || this.inline) return;
    try {
      if (value == null) window[area].removeItem(key);
      else window[area].setItem(key, value);
    } catch {
      // unavailable: the chat works, it just will not resume across pages
    }
  }
}

/**
 * Shows the dialogue of a bootstrap answer (see docs/api.md) as a new, independent chat.
 *
 * options.mode: "chatbot" (default), "popup" or "inline"; options.element: the element an inline
 * chat renders in. A dialogue already floating on the page (or an element already holding a chat)
 * gets the existing chat's handle back.
 *
 * Returns a handle for page scripts: {open(), close(), element}. open() moves focus into the chat
 * (opening a floating one); close() closes a floating one; both return Promises that wait for the
 * conversation to start. element: Promise<HTMLElement|null>, the chat's root (null if it failed).
 */
export function mount(cfg, boot, options = {}) {
  const key = options.mode === "inline" ? options.element : boot.dialogue.id;
  if (mounted.has(key)) return mounted.get(key);
  const chat = new Chat(cfg, boot, options);
  const started = chat.start().then(
    () => chat.root,
    (err) => {
      console.debug("dynchat:", err);
      mounted.delete(key); // may be tried again
      return null;
    },
  );
  const handle = {
    open: () => started.then((root) => root && chat.open(true)),
    close: () => started.then((root) => root && chat.close()),
    element: started,
  };
  mounted.set(key, handle);
  return handle;
}
