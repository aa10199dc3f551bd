// wagtail-dynchat meeting card: the time picker, loaded by widget.js only when a meeting card is
// awaited. Days first, then that day's times, all in the visitor's time zone; every choice is a
// button, so it works by keyboard, and the chosen day is marked with aria-pressed.
import { h } from "./widget.js";

const STRINGS = {
  days: "Choose a day",
  times: "Choose a time",
  noTimes: "There are no free times in the coming days.",
  invite: "Your e-mail address, for the invitation",
  needEmail: "Please enter your e-mail address for the invitation.",
  continue: "Continue",
};

let styled;
// What the visitor typed survives the picker being rebuilt (a time taken meanwhile).
let typed = "";

export async function render(chat, item, box) {
  const t = { ...STRINGS, ...chat.t };
  styled ||= document.head.appendChild(
    h("link", { rel: "stylesheet", href: new URL("meeting.css", import.meta.url).href }),
  );
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const url = `${chat.cfg.api}conversations/${encodeURIComponent(chat.conv.id)}/slots?tz=${encodeURIComponent(tz)}`;
  let offer;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`slots: HTTP ${res.status}`);
    offer = await res.json();
  } catch (err) {
    console.debug("dynchat:", err);
    return chat.system(t.error);
  }
  const format = (options) => new Intl.DateTimeFormat(chat.lang, { timeZone: offer.tz, ...options });
  const dayName = format({ weekday: "long", day: "numeric", month: "long" });
  const timeName = format({ hour: "numeric", minute: "2-digit" });

  const email = item.email
    ? h("input", { class: "dynchat-input", type: "email", id: chat.id(), autocomplete: "email", required: true, value: typed })
    : null;
  const problem = h("p", { class: "dynchat-label", id: chat.id(), hidden: true }, t.needEmail);
  email?.addEventListener("input", () => (typed = email.value));
  const choose = (start) => {
    // Said here, at the field, rather than as the server's 400 after the fact.
    if (email && !email.checkValidity()) {
      problem.hidden = false;
      email.setAttribute("aria-invalid", "true");
      email.setAttribute("aria-describedby", problem.id);
      return email.focus();
    }
    chat.answer({ start, tz: offer.tz, email: email ? email.value : null });
  };
  const takeFocus = (control) => {
    // The picker arrives after the controls were drawn: take the focus the chat gave the log.
    if (document.activeElement === chat.log || chat.log.contains(document.activeElement)) control.focus();
  };

  if (!offer.days.length) {
    // Nobody is free: the server then records the card's fallback and the dialogue goes on.
    // A choice like any other, so the chat's own focus handling finds it when the panel opens.
    const next = h("button", { type: "button", class: "dynchat-choice", onclick: () => chat.answer({ start: "", tz: offer.tz }) }, t.continue);
    box.append(h("p", { class: "dynchat-label" }, t.noTimes), h("div", { class: "dynchat-buttons" }, next));
    return takeFocus(next);
  }
  const times = h("div", { class: "dynchat-choices dynchat-times", role: "group", "aria-label": t.times });
  const days = h(
    "div",
    { class: "dynchat-choices dynchat-days", role: "group", "aria-label": t.days },
    ...offer.days.map((day) =>
      h(
        "button",
        {
          type: "button",
          class: "dynchat-choice",
          "aria-pressed": "false",
          onclick(event) {
            for (const other of days.children) other.setAttribute("aria-pressed", String(other === event.currentTarget));
            times.replaceChildren(
              ...day.times.map((start) =>
                h("button", { type: "button", class: "dynchat-choice", onclick: () => choose(start) }, timeName.format(new Date(start))),
              ),
            );
            times.firstChild?.focus();
          },
        },
        dayName.format(new Date(day.times[0])),
      ),
    ),
  );
  if (email) box.append(h("label", { class: "dynchat-label", for: email.id }, t.invite), email, problem);
  box.append(days, times);
  takeFocus(email || days.firstChild);
}
