// Contact import pages (templates/contacts/import_*.html).
//
// Job page: the worker pushes the progress piece to the uploader over the page's websocket
// (the piece then carries data-pushed). While the socket is not connected, or for anyone else
// looking at the job, the piece is fetched every few seconds instead, and once when the socket
// (re)connects, so a dropped connection never leaves a stale bar. The piece stops carrying
// data-poll-url when the import is over.
(() => {
  const POLL_MS = 4000;

  function pieces() {
    return document.querySelectorAll("[data-poll-url]");
  }

  function refresh(all) {
    for (const piece of pieces()) {
      if (!all && connected() && piece.hasAttribute("data-pushed")) continue;
      if (window.htmx) {
        window.htmx.ajax("GET", piece.dataset.pollUrl, { target: piece, swap: "outerHTML" });
      }
    }
  }

  function connected() {
    return Boolean(window.Centro && window.Centro.realtime && window.Centro.realtime.connected);
  }

  setInterval(() => {
    if (!document.hidden) refresh(false);
  }, POLL_MS);
  document.addEventListener("htmx:wsOpen", () => refresh(true));

  // Mapping page: the new list's name is only asked for when "A new list…" is chosen.
  function syncNewList() {
    const select = document.querySelector("[data-import-list]");
    const input = document.querySelector("[data-import-new-list]");
    if (!select || !input) return;
    const wanted = select.value === "new";
    input.closest("fieldset")
      .querySelectorAll("[for='import-new-list'], [data-import-new-list]")
      .forEach((el) => { el.hidden = !wanted; });
    input.required = wanted;
  }
  // Mapping page: under a consent column, how its yes and no are read for the chosen option.
  function syncConsentReading(select) {
    const line = select.closest("td").querySelector("[data-consent-reading-line]");
    if (!line) return;
    const reading = select.selectedOptions[0]?.dataset.consentReading || "";
    line.querySelector("[data-consent-reading-text]").textContent = reading;
    line.hidden = !reading;
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-import-list]")) syncNewList();
    if (event.target.matches("[data-import-target]")) syncConsentReading(event.target);
  });
  document.addEventListener("DOMContentLoaded", syncNewList);
})();
