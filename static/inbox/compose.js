// Writing first (inbox/compose_views.py): the "new conversation" dialog on the inbox page and
// the approved-template picker shown where WhatsApp's 24-hour window is closed. Every form
// also works without this file.
(() => {
  document.documentElement.classList.add("js");

  // --- the approved-template picker ----------------------------------------------------------
  // In the composer it stands in for free text while the reply goes by the conversation's own
  // inbox; a private note, or a reply by another inbox, is text again. Choosing a template
  // shows what the contact will read (filled for them by the server).
  function syncPicker(picker) {
    const form = picker.closest("form");
    if (!form) return;
    const select = picker.querySelector("[data-template-select]");
    const mode = form.querySelector("input[name='mode']:checked");
    const via = form.querySelector("select[name='via']");
    // "Reply by" lists the conversation's own inbox first.
    const active = (!mode || mode.value === "reply") && (!via || via.selectedIndex <= 0);
    picker.hidden = !active;
    if (select) select.disabled = !active;
    const body = form.querySelector("[data-composer-body]");
    if (body) {
      body.hidden = active;
      body.disabled = active;
    }
    const option = select && select.selectedOptions[0];
    const text = option && option.value ? option.dataset.templateText || "" : "";
    const preview = picker.querySelector("[data-template-preview]");
    if (preview) {
      preview.hidden = !text;
      preview.querySelector("[data-template-preview-text]").textContent = text;
    }
  }

  function syncAll(root) {
    (root || document).querySelectorAll("[data-template-picker]").forEach(syncPicker);
  }

  // The contact wrote (their message pushed into the thread): the window is open again, so
  // the picker goes and the reply is free text. Messages are numbered in arrival order: one
  // newer than the thread had when the picker appeared is new ("load earlier" adds older ones).
  function newestId(thread) {
    const ids = Array.from(thread.querySelectorAll("li.msg[id^='msg-']"), (li) => Number(li.id.slice(4)));
    return Math.max(0, ...ids.filter(Number.isInteger));
  }

  function reopen(picker) {
    const form = picker.closest("form");
    picker.remove();
    const body = form && form.querySelector("[data-composer-body]");
    if (body) {
      body.hidden = false;
      body.disabled = false;
    }
  }

  let watchedThread = null;
  const threadObserver = new MutationObserver((records) => {
    const picker = document.getElementById("composer-template-picker");
    if (!picker) return;
    const seen = Number(picker.dataset.newestSeen || 0);
    const wrote = records.some((record) => Array.from(record.addedNodes).some((node) =>
      node.nodeType === Node.ELEMENT_NODE && node.matches("li.msg-in") && Number(node.id.slice(4)) > seen));
    if (wrote) reopen(picker);
  });

  function watchThread() {
    const thread = document.getElementById("thread");
    const picker = document.getElementById("composer-template-picker");
    if (thread && picker && !picker.dataset.newestSeen) picker.dataset.newestSeen = String(newestId(thread));
    if (thread === watchedThread) return;
    threadObserver.disconnect();
    watchedThread = thread;
    if (thread) threadObserver.observe(thread, { childList: true });
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("form");
    if (form) syncAll(form);
  });
  document.addEventListener("htmx:afterSettle", () => {
    syncAll(document);
    watchThread();
  });
  document.addEventListener("DOMContentLoaded", () => {
    syncAll(document);
    watchThread();
  });

  // Sent: the composer starts again with no template chosen.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-composer]")) return;
    if (event.detail.xhr.status < 200 || event.detail.xhr.status >= 300) return;
    form.querySelectorAll("[data-template-select]").forEach((select) => { select.value = ""; });
    syncAll(form);
  });

  // --- the "new conversation" dialog -----------------------------------------------------------
  // The button loads the form into the dialog (htmx), which then opens; each choice (contact,
  // inbox) renders the form again with the next step; sending opens the conversation.
  function focusNextStep(form) {
    const next =
      form.querySelector("#new-subject[value='']") ||
      form.querySelector("#new-body, [data-template-select]") ||
      form.querySelector("input[name='inbox']:checked, input[name='inbox']") ||
      form.querySelector("[data-new-contact-search]") ||
      form.querySelector("#new-contact-change");
    if (next) next.focus();
  }

  // Opened once htmx has settled the form in (its search box then searches as one types).
  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (target && target.id === "new-conversation-dialog") {
      if (!target.open) target.showModal();
      focusNextStep(target);
    }
  });

  // A choice rendered the form again: the focus goes on to the next step.
  document.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (!target || target.id !== "new-conversation") return;
    const form = document.getElementById("new-conversation");
    if (form) focusNextStep(form);
  });

  document.addEventListener("click", (event) => {
    const close = event.target.closest && event.target.closest("[data-dialog-close]");
    if (close) close.closest("dialog").close();
  });

  // Closed (Cancel, Escape or sent): the next opening starts afresh.
  document.addEventListener("close", (event) => {
    if (event.target.id === "new-conversation-dialog") event.target.innerHTML = "";
  }, true);

  // Sent: the server answers with the conversation's location (opened in the detail pane).
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-new-conversation-form]")) return;
    if (event.detail.xhr.getResponseHeader("HX-Location")) {
      const dialog = form.closest("dialog");
      if (dialog) dialog.close();
    }
  });

  // Enter in the search box searches (as typing does); it does not send the form.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-new-contact-search]")) {
      event.preventDefault();
    }
  });
})();
