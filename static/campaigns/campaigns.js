// Campaign pages (templates/campaigns/*.html). Every form works without this file.
//
// Campaign page: workers push the live piece (#campaign-{id}-live) to the tenant over the
// page's websocket. While the socket is not connected the piece is fetched every few seconds
// instead (it carries data-poll-url while the campaign can still change), and once when the
// socket (re)connects, so a dropped connection never leaves stale numbers. When the piece shows
// a state the head (#campaign-{id}-head, with the action buttons) was not rendered for, the
// head is fetched again: the pushed piece is the same for everyone and holds no buttons.
//
// Builder: only templates of the chosen inbox's channel are offered, and typing a delay, a
// window, a rate or a start time chooses that option.
(() => {
  const POLL_MS = 4000;

  function connected() {
    return Boolean(window.Centro && window.Centro.realtime && window.Centro.realtime.connected);
  }

  function refreshLive(all) {
    if (!window.htmx) return;
    for (const piece of document.querySelectorAll(".campaign-live[data-poll-url]")) {
      if (!all && connected()) continue;
      window.htmx.ajax("GET", piece.dataset.pollUrl, { target: piece, swap: "outerHTML" });
    }
  }

  // At most one fetch of a head per state the live piece shows: a head rendered for a newer
  // state than a stale live piece must not set off a fetch after every swap.
  const headFetchedFor = {};

  function syncHead() {
    if (!window.htmx) return;
    for (const live of document.querySelectorAll(".campaign-live[data-campaign-state]")) {
      const state = live.dataset.campaignState;
      const head = document.getElementById(live.id.replace(/-live$/, "-head"));
      if (!head || head.dataset.headState === state || headFetchedFor[live.id] === state) continue;
      headFetchedFor[live.id] = state;
      window.htmx.ajax("GET", head.dataset.headUrl, { target: head, swap: "outerHTML" });
    }
  }

  setInterval(() => {
    if (!document.hidden) refreshLive(false);
  }, POLL_MS);
  document.addEventListener("htmx:wsOpen", () => refreshLive(true));
  // Pushed pieces land as out-of-band swaps, polled ones as ordinary swaps.
  document.addEventListener("htmx:oobAfterSwap", syncHead);
  document.addEventListener("htmx:afterSwap", syncHead);

  // Destructive actions ask first (a form without JavaScript just submits).
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // --- the builder -------------------------------------------------------------------------
  function syncTemplates() {
    const inbox = document.querySelector("[data-campaign-inbox]");
    const template = document.querySelector("[data-campaign-template]");
    if (!inbox || !template) return;
    const chosen = inbox.selectedOptions[0];
    const channel = chosen ? chosen.dataset.channel : "";
    for (const option of template.options) {
      if (!option.value) continue;
      const fits = !channel || option.dataset.channel === channel;
      option.hidden = !fits;
      option.disabled = !fits;
      if (!fits && option.selected) template.value = "";
    }
  }

  // Typing a delay, a window or a rate (or a start time) chooses it.
  function chooseFor(input) {
    const radio = input.matches("[data-pacing]")
      ? document.querySelector(`input[name=pacing][value="${input.dataset.pacing}"]`)
      : input.matches("[data-when]")
        ? document.querySelector(`input[name=send_when][value="${input.dataset.when}"]`)
        : null;
    if (radio && !radio.checked) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-campaign-inbox]")) syncTemplates();
  });
  document.addEventListener("focusin", (event) => {
    if (event.target.matches("[data-pacing], [data-when]")) chooseFor(event.target);
  });
  document.addEventListener("DOMContentLoaded", syncTemplates);
})();
