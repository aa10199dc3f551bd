// ChatSettings form in the Wagtail admin: colour pickers, contrast warnings as the editor types,
// and the live preview.
//
// Plain script, no framework and nothing inline, so an admin with a strict CSP runs it. The
// preview is restyled through the CSSOM (style.setProperty), which such a CSP allows. The server
// renders the same warnings (branding.contrast_warnings), and the colour rules here mirror it.
(() => {
  "use strict";

  const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  // Same characters as branding.normalise_font_family; the CSSOM ignores a list it can't parse.
  const FONT = /^[\p{L}\p{N} ,'"-]+$/u;
  const OFFSET = /^\d{1,3}$/;

  // "" for blank, null for an invalid colour, else lowercase #rrggbb.
  function normaliseHex(raw) {
    const value = (raw || "").trim();
    if (!value) return "";
    if (!HEX.test(value)) return null;
    const hex = value.toLowerCase();
    return hex.length === 4 ? `#${[...hex.slice(1)].map((digit) => digit + digit).join("")}` : hex;
  }

  // WCAG 2.2 relative luminance and contrast ratio.
  function luminance(hex) {
    const [red, green, blue] = [1, 3, 5].map((start) => {
      const channel = Number.parseInt(hex.slice(start, start + 2), 16) / 255;
      return channel <= 0.04045 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue;
  }

  function contrast(first, second) {
    const [lighter, darker] = [luminance(first), luminance(second)].sort((a, b) => b - a);
    return (lighter + 0.05) / (darker + 0.05);
  }

  // Rounded down, so a failing 4.46 never reads "4.5" (branding.format_ratio).
  const formatRatio = (ratio) => (Math.floor(ratio * 10) / 10).toFixed(1);

  function init() {
    const data = document.getElementById("dynchat-branding-config");
    const preview = document.querySelector("[data-dynchat-preview]");
    const form = (preview || document.querySelector("[data-dynchat-colour]"))?.closest("form");
    if (!form) return;
    const config = data ? JSON.parse(data.textContent) : null;
    const valueOf = (name) => {
      // A RadioNodeList (the position) has a value too.
      const element = form.elements.namedItem(name);
      return element && typeof element.value === "string" ? element.value : "";
    };
    const pickers = [...form.querySelectorAll("[data-dynchat-colour-picker]")]
      .map((picker) => [picker, document.getElementById(picker.dataset.dynchatColourPicker)])
      .filter(([, text]) => text);

    // Per colour field, the colour the widget shows (the default when blank), or null if invalid.
    function effectiveColours() {
      const colourFields = Object.keys(config.properties).filter(
        (name) => config.properties[name] in config.defaults,
      );
      const byKey = {};
      for (const name of colourFields) byKey[config.properties[name]] = normaliseHex(valueOf(name));
      const result = {};
      for (const name of colourFields) {
        const key = config.properties[name];
        let value = byKey[key];
        if (value === "") {
          const fallback = config.fallbacks[key];
          if (!fallback) value = config.defaults[key];
          else value = byKey[fallback] === "" ? config.defaults[fallback] : byKey[fallback];
        }
        result[name] = value;
      }
      return result;
    }

    function updateWarnings(colours) {
      for (const [background, foreground, label] of config.pairs) {
        const region = form.querySelector(`[data-dynchat-contrast="${background} ${foreground}"]`);
        if (!region) continue;
        let message = "";
        if (colours[background] && colours[foreground]) {
          const ratio = contrast(colours[background], colours[foreground]);
          if (ratio < config.minimum) {
            message = config.message
              .replace("%(pair)s", () => label)
              .replace("%(ratio)s", () => formatRatio(ratio))
              .replace("%(minimum)s", () => formatRatio(config.minimum));
          }
        }
        const text = region.querySelector("[data-dynchat-contrast-message]");
        // Only a real change is written, so the live region announces nothing on other keys.
        if (text && text.textContent !== message) text.textContent = message;
        region.firstElementChild.hidden = !message;
      }
    }

    function updatePreview() {
      const root = preview.querySelector(".dynchat");
      for (const [name, key] of Object.entries(config.properties)) {
        const raw = valueOf(name).trim();
        let value = null;
        if (key in config.defaults) value = normaliseHex(raw) || null;
        else if (key === "font") value = FONT.test(raw) ? raw : null;
        else if (OFFSET.test(raw) && Number(raw) <= 200) value = `${Number(raw)}px`;
        if (value) root.style.setProperty(`--dynchat-${key}`, value);
        else root.style.removeProperty(`--dynchat-${key}`);
      }
      root.dataset.position = valueOf("position") === "left" ? "left" : "right";
      const title = preview.querySelector("[data-dynchat-preview-title]");
      if (title) title.textContent = valueOf("bot_name").trim() || config.defaultTitle;
    }

    function update() {
      if (!config) return;
      const colours = effectiveColours();
      // A blank field's picker and placeholder show the colour the widget will use (the visitor's
      // bubble follows the button colour).
      for (const [picker, text] of pickers) {
        const colour = colours[text.name];
        if (!colour) continue;
        if (picker.value !== colour) picker.value = colour;
        if (!text.value.trim()) text.placeholder = colour;
      }
      updateWarnings(colours);
      if (preview) updatePreview();
    }

    for (const [picker, text] of pickers) {
      picker.addEventListener("input", () => {
        text.value = picker.value;
        text.dispatchEvent(new Event("input", { bubbles: true }));
      });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);

    // The image chooser swaps its preview image when another avatar is chosen or it is cleared.
    const avatarInput = form.elements.namedItem("avatar");
    const chooser = avatarInput?.id && document.getElementById(`${avatarInput.id}-chooser`);
    const avatar = preview?.querySelector("[data-dynchat-preview-avatar]");
    if (chooser && avatar) {
      new MutationObserver(() => {
        const chosen = chooser.querySelector("[data-chooser-image]");
        const src = !chooser.classList.contains("blank") && chosen?.getAttribute("src");
        if (src && avatar.getAttribute("src") !== src) avatar.setAttribute("src", src);
        avatar.hidden = !src;
      }).observe(chooser, { attributes: true, subtree: true, attributeFilter: ["src", "class"] });
    }

    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
