// Progressive enhancements; every form here also works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select) select.form.requestSubmit();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-theme-toggle]");
  if (!button) return;
  // Switch at once, then remember the choice on the server.
  event.preventDefault();
  const root = document.documentElement;
  const next = root.dataset.theme === "light" ? "dark" : "light";
  root.dataset.theme = next;
  const form = button.form;
  const body = new FormData(form);
  body.set("theme", next);
  // keepalive: a page left (or reloaded) at once still saves the choice.
  fetch(form.action, { method: "POST", body, headers: { "HX-Request": "true" }, keepalive: true });
  button.value = next === "light" ? "dark" : "light";
  button.title = `Switch to ${button.value} theme`;
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const target = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(target.textContent.trim());
  button.textContent = "Copied";
});

// --- realtime --------------------------------------------------------------------------------
// Pushed fragments are rendered for what the page showed a moment ago; by the time they arrive
// the agent may have replaced that part (a search, another conversation). Fragments whose
// target is gone are dropped here instead of failing in htmx.
if (window.htmx) {
  window.htmx.defineExtension("centro-push", {
    transformResponse(text) {
      const template = document.createElement("template");
      template.innerHTML = text;
      Array.from(template.content.children).forEach((child) => {
        const spec = child.getAttribute("hx-swap-oob") || "true";
        const colon = spec.indexOf(":");
        const selector = colon >= 0 ? spec.slice(colon + 1) : child.id && `#${CSS.escape(child.id)}`;
        if (!selector || !document.querySelector(selector)) child.remove();
      });
      return template.innerHTML;
    },
  });
}


// base.html opens one websocket per page (htmx ws extension); the server pushes out-of-band
// fragments rendered for this agent. The page tells the server what it shows: a script may set
// Centro.realtime.describe to return its state, and call Centro.realtime.report() when it
// changes. After a dropped connection the server also sends what the page missed.
window.Centro = window.Centro || {};
window.Centro.realtime = (() => {
  let socket = null;
  let opened = false;
  let timer = null;
  const api = {
    describe: () => ({}),
    connected: false,
    send(message) {
      if (socket && api.connected) socket.send(JSON.stringify(message));
    },
    report(extra = {}) {
      const root = document.getElementById("realtime");
      if (!root || !socket) return;
      api.send({ type: "view", page: root.dataset.page || "", ...api.describe(), ...extra });
    },
    // Many swaps can land at once: report once they are done.
    reportSoon() {
      clearTimeout(timer);
      timer = setTimeout(() => api.report(), 40);
    },
  };
  document.addEventListener("htmx:wsOpen", (event) => {
    socket = event.detail.socketWrapper;
    api.connected = true;
    document.documentElement.dataset.realtime = "connected";
    // The first connection catches up with what happened since the page was rendered;
    // a reconnection with everything missed while offline.
    api.report({ catch_up: opened ? "reconnect" : "open" });
    opened = true;
  });
  document.addEventListener("htmx:wsClose", () => {
    api.connected = false;
    document.documentElement.dataset.realtime = "disconnected";
  });
  document.addEventListener("visibilitychange", () => api.reportSoon());
  return api;
})();
