// The inbox, progressively enhanced: every link and form works without this file.
// Keyboard shortcuts (j/k/r/e/a, ? for help), Enter to send, relative times kept fresh,
// the thread kept scrolled to the newest message, one pane at a time on a phone.
(() => {
  document.documentElement.classList.add("js");

  const inbox = () => document.querySelector("[data-inbox]");
  const scroller = () => document.querySelector("[data-thread-scroll]");

  // --- relative times (same wording as inbox_ui.relative_time) -------------------------------
  // Dates read in the person's zone (the server's, on <body data-time-zone>), not the browser's.
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const calendar = (() => {
    const options = { year: "numeric", month: "numeric", day: "numeric" };
    try {
      return new Intl.DateTimeFormat("en", { ...options, timeZone: document.body.dataset.timeZone });
    } catch (error) {
      return new Intl.DateTimeFormat("en", options); // an unknown zone: the browser's
    }
  })();
  function day(date) {
    const parts = {};
    calendar.formatToParts(date).forEach(({ type, value }) => { parts[type] = Number(value); });
    return parts;
  }
  function relative(date, now) {
    const seconds = Math.max(0, Math.floor((now - date) / 1000));
    if (seconds < 60) return "now";
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
    if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d ago`;
    const then = day(date);
    const label = `${then.day} ${MONTHS[then.month - 1]}`;
    return then.year === day(now).year ? label : `${label} ${then.year}`;
  }
  function refreshTimes(root) {
    const now = new Date();
    (root || document).querySelectorAll("time[data-timestamp]").forEach((el) => {
      const date = new Date(el.dataset.timestamp);
      if (!Number.isNaN(date.getTime())) el.textContent = relative(date, now);
    });
  }
  setInterval(() => refreshTimes(document), 60_000);

  // --- the thread stays at the newest message ------------------------------------------------
  function scrollThread(force) {
    const box = scroller();
    if (!box) return;
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 160;
    if (force || nearBottom) box.scrollTop = box.scrollHeight;
  }

  function currentConversationId() {
    const detail = document.querySelector("#detail [data-conversation-id]");
    return detail ? detail.dataset.conversationId : null;
  }

  function markCurrentRow() {
    const id = currentConversationId();
    document.querySelectorAll("[data-row-link]").forEach((link) => {
      const row = link.closest("[data-conversation-id]");
      if (row && row.dataset.conversationId === id) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
  }

  // --- htmx integration -----------------------------------------------------------------------
  // Responses update the conversation's list row out of band only when the row is on the page.
  document.addEventListener("htmx:configRequest", (event) => {
    const holder = event.detail.elt.closest("[data-conversation-id]");
    const id = holder && holder.dataset.conversationId;
    if (id && document.getElementById(`conv-${id}`)) event.detail.headers["X-Inbox-Row"] = "1";
  });

  // Refusals (opted out, rate limited…) come back as 4xx naming where to show them.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A row swapped out of band while it had the focus (j/k) gets it back afterwards.
  let focusedRow = null;
  document.addEventListener("htmx:beforeRequest", () => {
    const active = document.activeElement;
    const row = active && active.matches("[data-row-link]") && active.closest("[data-conversation-id]");
    focusedRow = row ? row.dataset.conversationId : null;
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    // Back/Forward swap a page from htmx's history cache in with no target: "htmx:historyRestore"
    // below takes care of it.
    const target = event.detail.target;
    if (!target) return;
    refreshTimes(target.parentNode || document);
    if (target.id === "detail") {
      const root = inbox();
      if (root) root.dataset.pane = "detail";
      markCurrentRow();
      scrollThread(true);
      if (focusedRow && !document.activeElement.matches("[data-row-link]")) {
        const link = document.querySelector(`#conv-${focusedRow} [data-row-link]`);
        if (link) link.focus();
      }
    } else if (target.id === "thread") {
      dropDuplicates();
      scrollThread(true);
    } else if (target.id === "list-pane" || target.id === "conversation-results") {
      markCurrentRow();
    }
  });

  // Back/Forward: the page comes back as it was left (from htmx's history cache). Its times,
  // its current row and the pane shown on a phone follow the conversation it shows now.
  document.addEventListener("htmx:historyRestore", () => {
    const root = inbox();
    if (!root) return;
    refreshTimes(document);
    root.dataset.pane = currentConversationId() ? "detail" : "list";
    markCurrentRow();
    scrollThread(true);
    if (realtime) realtime.reportSoon(); // the server renders for what the page shows now
  });

  document.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "thread") {
      dropDuplicates();
      scrollThread(false);
    }
  });

  // The composer empties itself once the message is stored (not when it was refused).
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-composer]")) return;
    if (event.detail.xhr.status >= 200 && event.detail.xhr.status < 300) {
      const files = form.querySelector("[data-composer-files]");
      if (files) {
        files.value = "";
        files.dispatchEvent(new Event("change", { bubbles: true }));
      }
      // An email's CC and BCC go with one reply only.
      form.querySelectorAll("[data-composer-copies]").forEach((input) => { input.value = ""; });
      // So does "send this message by SMS": the next one goes by the conversation's channel.
      form.querySelectorAll("[data-composer-once]").forEach((input) => { input.checked = false; });
      const body = form.querySelector("[data-composer-body]");
      body.value = "";
      body.dispatchEvent(new Event("change", { bubbles: true })); // the SMS counter back to 0
      closeSuggestions(body);
      body.focus();
    }
  });

  // --- canned responses: "/shortcut" in the composer ------------------------------------------
  // Typing "/" and letters at the start of a word asks the server for matching responses
  // (an htmx GET answering the "canned-suggestions" partial); Up/Down move, Enter or Tab
  // insert the response in place of "/shortcut", Escape closes.
  const SLASH = /(^|\s)\/([\w-]*)$/;

  function suggestionBox(body) {
    return body.form && body.form.querySelector("#canned-suggestions");
  }

  function slashToken(body) {
    const before = body.value.slice(0, body.selectionStart);
    if (body.selectionStart !== body.selectionEnd) return null;
    const match = SLASH.exec(before);
    if (!match) return null;
    return { start: before.length - match[2].length - 1, prefix: match[2] };
  }

  function options(box) {
    return Array.from(box.querySelectorAll("[role='option']"));
  }

  function closeSuggestions(body) {
    const box = suggestionBox(body);
    if (!box) return;
    box.hidden = true;
    box.innerHTML = "";
    body.setAttribute("aria-expanded", "false");
    body.removeAttribute("aria-activedescendant");
  }

  function suggestionsOpen(body) {
    const box = suggestionBox(body);
    return Boolean(box && !box.hidden && options(box).length);
  }

  function highlight(body, index) {
    const box = suggestionBox(body);
    const all = options(box);
    if (!all.length) return;
    const next = (index + all.length) % all.length;
    all.forEach((option, i) => option.setAttribute("aria-selected", i === next ? "true" : "false"));
    body.setAttribute("aria-activedescendant", all[next].id);
    all[next].scrollIntoView({ block: "nearest" });
  }

  function selectedIndex(box) {
    return options(box).findIndex((option) => option.getAttribute("aria-selected") === "true");
  }

  function insertSuggestion(body, option) {
    const token = slashToken(body);
    if (!token || !option) return;
    const text = option.dataset.cannedBody || "";
    const end = body.selectionStart;
    body.value = body.value.slice(0, token.start) + text + body.value.slice(end);
    const caret = token.start + text.length;
    body.setSelectionRange(caret, caret);
    closeSuggestions(body);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  let lookupTimer = null;
  document.addEventListener("input", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (!body) return;
    const box = suggestionBox(body);
    if (!box || !window.htmx) return;
    const token = slashToken(body);
    clearTimeout(lookupTimer);
    if (!token) {
      closeSuggestions(body);
      return;
    }
    lookupTimer = setTimeout(() => {
      // Filled for this conversation's contact: {{firstName}} arrives as their first name.
      const url = `${box.dataset.cannedUrl}?q=${encodeURIComponent(token.prefix)}` +
        `&conversation=${encodeURIComponent(box.dataset.cannedConversation || "")}`;
      window.htmx.ajax("GET", url, { target: box, swap: "innerHTML", source: body }).then(() => {
        if (!slashToken(body)) return closeSuggestions(body);
        box.hidden = false;
        body.setAttribute("aria-expanded", "true");
        const all = options(box);
        if (all.length) highlight(body, 0);
        else body.removeAttribute("aria-activedescendant");
      });
    }, 120);
  });

  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest("#canned-suggestions [role='option']");
    if (!option) return;
    event.preventDefault(); // keep the focus (and the caret) in the composer
    const body = option.closest("form").querySelector("[data-composer-body]");
    insertSuggestion(body, option);
  });

  document.addEventListener("focusout", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (body) setTimeout(() => { if (document.activeElement !== body) closeSuggestions(body); }, 100);
  });

  // Enter sends, Shift+Enter is a new line (not while an input method is composing).
  document.addEventListener("keydown", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (!body) return;
    if (suggestionsOpen(body) && !event.isComposing) {
      const box = suggestionBox(body);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(body, selectedIndex(box) + (event.key === "ArrowDown" ? 1 : -1));
        return;
      }
      if ((event.key === "Enter" && !event.shiftKey) || (event.key === "Tab" && !event.shiftKey)) {
        event.preventDefault();
        insertSuggestion(body, options(box)[Math.max(0, selectedIndex(box))]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        closeSuggestions(body);
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey) {
      event.preventDefault();
      const files = body.form.querySelector("[data-composer-files]");
      if (body.value.trim() || (files && files.files.length)) body.form.requestSubmit();
    } else if (event.key === "Escape") {
      body.blur();
    }
  });

  // --- attachments ----------------------------------------------------------------------------
  document.addEventListener("change", (event) => {
    const input = event.target.closest && event.target.closest("[data-composer-files]");
    if (!input) return;
    const names = input.form.querySelector("[data-attach-names]");
    if (names) names.textContent = Array.from(input.files).map((f) => f.name).join(", ");
    // Files make an SMS an MMS: the SMS counter, asked again just after this change, reads this.
    const media = input.form.querySelector("[data-composer-media]");
    if (media) media.value = input.files.length ? "1" : "";
  });

  // --- emoji ------------------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-emoji]");
    if (!button) return;
    const form = button.closest("form");
    const body = form && form.querySelector("[data-composer-body]");
    if (!body) return;
    const start = body.selectionStart ?? body.value.length;
    const end = body.selectionEnd ?? body.value.length;
    body.value = body.value.slice(0, start) + button.dataset.emoji + body.value.slice(end);
    const caret = start + button.dataset.emoji.length;
    button.closest("details").open = false;
    body.focus();
    body.setSelectionRange(caret, caret);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });
  document.addEventListener("keydown", (event) => {
    const menu = event.target.closest && event.target.closest(".emoji-menu[open]");
    if (menu && event.key === "Escape") {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });

  // --- keyboard shortcuts ---------------------------------------------------------------------
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable='true']") !== null;
  }

  function moveSelection(step) {
    const links = Array.from(document.querySelectorAll("#list-pane [data-row-link]"));
    if (!links.length) return;
    const current = links.findIndex((link) => link.getAttribute("aria-current") === "true");
    let next = current === -1 ? 0 : current + step;
    next = Math.max(0, Math.min(links.length - 1, next));
    if (next === current) return;
    const link = links[next];
    link.scrollIntoView({ block: "nearest" });
    link.focus();
    whenSettled(() => link.click());
  }

  // A shortcut acts on what is on screen once htmx is done: while a request is in flight or
  // swapped-in content is not yet enabled (htmx does that when it settles), it waits, so that
  // "a" then "e" typed quickly assign and then close, in that order, both through htmx.
  const BUSY = ".htmx-request, .htmx-settling, .htmx-added";
  function whenSettled(action) {
    if (!document.querySelector(BUSY)) {
      action();
      return;
    }
    let done = false;
    const retry = () => {
      if (done) return;
      done = true;
      document.removeEventListener("htmx:afterSettle", retry);
      document.removeEventListener("htmx:afterRequest", later);
      whenSettled(action);
    };
    // A refused request swaps nothing (no settle): check again shortly after it ends.
    const later = () => setTimeout(retry, 50);
    document.addEventListener("htmx:afterSettle", retry);
    document.addEventListener("htmx:afterRequest", later);
  }

  function clickIfPresent(id) {
    whenSettled(() => {
      const button = document.getElementById(id);
      if (button) button.click();
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (!inbox() || typing(event.target)) return;
    const help = document.getElementById("shortcuts");
    if (help && help.open) return;
    switch (event.key) {
      case "j": moveSelection(1); break;
      case "k": moveSelection(-1); break;
      case "r": {
        const body = document.querySelector("[data-composer-body]");
        if (!body) return;
        body.focus();
        break;
      }
      case "e": clickIfPresent("action-close"); break;
      case "a": clickIfPresent("action-assign"); break;
      case "?": if (help) help.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  // --- realtime -------------------------------------------------------------------------------
  // The server renders events for what this page shows (inbox/realtime.py): tell it.
  function ids(selector, prefix) {
    return Array.from(document.querySelectorAll(selector))
      .map((el) => Number(el.id.slice(prefix.length)))
      .filter((n) => Number.isInteger(n) && n > 0);
  }

  // A thread the server rendered since the last report (another conversation opened, or the
  // same one again) may lack what arrived before the socket knew the page shows it: the
  // server then sends whatever is newer than what the page reports ("open" catch-up).
  let reportedThread = null;

  function describe() {
    const results = document.getElementById("conversation-results");
    const messages = ids("#thread > li.msg[id^='msg-']", "msg-");
    const thread = document.getElementById("thread");
    const rendered = thread !== null && thread !== reportedThread;
    reportedThread = thread;
    return {
      ...(rendered ? { catch_up: "open" } : {}),
      conversation: Number(currentConversationId()) || null,
      list: results ? results.dataset.listQuery : "",
      first_page: !results || results.dataset.firstPage === "1",
      more: Boolean(document.querySelector("#conversation-list > .load-more")),
      rows: ids("#conversation-list > li.conv-row", "conv-"),
      pinned: ids("#pinned-list > li.conv-row", "conv-"),
      oldest_message: messages.length ? Math.min(...messages) : null,
      newest_message: messages.length ? Math.max(...messages) : null,
      visible: document.visibilityState === "visible",
    };
  }

  const realtime = window.Centro && window.Centro.realtime;
  if (realtime && inbox()) realtime.describe = describe;
  document.addEventListener("htmx:afterSettle", () => realtime && realtime.reportSoon());

  // A message can arrive twice (the reply's own response and its event): keep the first.
  function dropDuplicates() {
    const seen = new Set();
    document.querySelectorAll("#thread > li[id]").forEach((item) => {
      if (seen.has(item.id)) item.remove();
      else seen.add(item.id);
    });
  }

  // "… is replying" fades when the other agent stops sending typing signals, leaving who is
  // viewing (the server puts that in data-viewing: they say when they leave).
  // So does "… is typing" when the contact's channel never says they stopped; and the warning
  // that another agent replied at the same time, once it had time to be read.
  const presenceTimers = {};
  const PRESENCE_EXPIRY = { presence: 8000, "contact-typing": 8000, "composer-warning": 15000 };
  function expirePresence() {
    Object.entries(PRESENCE_EXPIRY).forEach(([id, delay]) => {
      clearTimeout(presenceTimers[id]);
      const presence = document.getElementById(id);
      const after = presence ? presence.dataset.viewing || "" : "";
      if (presence && presence.textContent.trim() !== after) {
        presenceTimers[id] = setTimeout(() => { presence.textContent = after; }, delay);
      }
    });
  }

  // A push must not replace what an agent's request is still waiting on (the header whose
  // form was just submitted, the row just clicked): htmx would resolve that request's own
  // swaps inside the detached copy. Its response brings the fresher state anyway. Inserting
  // next to it or into it (a row moved above the one loading, a message appended) detaches
  // nothing and must go through, or what it brings is lost.
  let pushing = false;
  function replaces(target, fragment) {
    const incoming = Array.from(fragment.children || []);
    return incoming.length === 0 || incoming.some((element) => element.id === target.id);
  }
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const { target, fragment } = event.detail;
    const waiting = target.matches(".htmx-request") || target.querySelector(".htmx-request");
    if (pushing && waiting && replaces(target, fragment)) event.preventDefault();
  });

  // A row moved by a push while its link was loading exists twice: keep the loading one.
  function dropDuplicateRows() {
    const rows = new Map();
    document.querySelectorAll("#list-pane li.conv-row[id]").forEach((row) => {
      const other = rows.get(row.id);
      if (!other) {
        rows.set(row.id, row);
      } else if (row.querySelector(".htmx-request")) {
        other.remove();
        rows.set(row.id, row);
      } else {
        row.remove();
      }
    });
  }

  let focusedBeforePush = null;
  document.addEventListener("htmx:wsBeforeMessage", () => {
    pushing = true;
    const active = document.activeElement;
    const row = active && active.matches("[data-row-link]") && active.closest("[data-conversation-id]");
    focusedBeforePush = row ? row.dataset.conversationId : null;
  });

  document.addEventListener("htmx:wsAfterMessage", () => {
    pushing = false;
    dropDuplicates();
    dropDuplicateRows();
    refreshTimes(document);
    markCurrentRow();
    expirePresence();
    if (focusedBeforePush && !document.activeElement.matches("[data-row-link]")) {
      const link = document.querySelector(`#conv-${focusedBeforePush} [data-row-link]`);
      if (link) link.focus();
    }
    if (realtime) realtime.reportSoon();
  });

  // Tell the others looking at this conversation that a reply is being written.
  const TYPING_EVERY = 3000;
  const TYPING_IDLE = 5000;
  let typingSentAt = 0;
  let typingIdle = null;
  let typingIn = null;

  function sendTyping(active) {
    if (!realtime || !typingIn) return;
    realtime.send({ type: "typing", conversation: Number(typingIn), active });
  }

  function stopTyping() {
    clearTimeout(typingIdle);
    if (typingIn && typingSentAt) sendTyping(false);
    typingSentAt = 0;
    typingIn = null;
  }

  document.addEventListener("input", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (!body) return;
    const mode = body.form.querySelector("input[name='mode']:checked");
    if (mode && mode.value === "note") return;
    const id = currentConversationId();
    if (typingIn && typingIn !== id) stopTyping();
    typingIn = id;
    const now = Date.now();
    if (body.value.trim() && now - typingSentAt > TYPING_EVERY) {
      typingSentAt = now;
      sendTyping(true);
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, TYPING_IDLE);
  });
  document.addEventListener("submit", (event) => {
    if (event.target.matches && event.target.matches("[data-composer]")) stopTyping();
  }, true);
  document.addEventListener("focusout", (event) => {
    if (event.target.closest && event.target.closest("[data-composer-body]")) stopTyping();
  });

  // --- first load -----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    refreshTimes(document);
    scrollThread(true);
  });
})();
