// "@" mentions in a private note (templates/inbox/inbox.html, inbox/mention_views.py).
// Typing "@" and letters in Note mode asks the server for matching members; Up/Down move,
// Enter or Tab insert "@Name ", Escape closes. The picked user ids go in the form's hidden
// "mentions" field; the server keeps those the text still names. Keys are handled in the
// capture phase so that Enter picks a member instead of sending (inbox.js listens later).
(() => {
  const AT = /(^|\s)@([^\s@]{0,40}(?: [^\s@]{0,40})?)$/;
  let timer = null;

  function noteMode(body) {
    const mode = body.form && body.form.querySelector("input[name='mode']:checked");
    return Boolean(mode && mode.value === "note") ||
      Boolean(body.form && !body.form.querySelector("input[name='mode'][value='reply']"));
  }

  function box(body) {
    return body.form && body.form.querySelector("#mention-suggestions");
  }

  function token(body) {
    if (body.selectionStart !== body.selectionEnd) return null;
    const before = body.value.slice(0, body.selectionStart);
    const match = AT.exec(before);
    if (!match) return null;
    return { start: before.length - match[2].length - 1, prefix: match[2] };
  }

  function options(list) {
    return Array.from(list.querySelectorAll("[role='option']"));
  }

  function isOpen(body) {
    const list = box(body);
    return Boolean(list && !list.hidden && options(list).length);
  }

  function close(body) {
    const list = box(body);
    if (!list || list.hidden) return;
    list.hidden = true;
    list.innerHTML = "";
    body.setAttribute("aria-expanded", "false");
    body.setAttribute("aria-controls", "canned-suggestions");
    body.removeAttribute("aria-activedescendant");
  }

  function highlight(body, index) {
    const all = options(box(body));
    if (!all.length) return;
    const next = (index + all.length) % all.length;
    all.forEach((option, i) => option.setAttribute("aria-selected", i === next ? "true" : "false"));
    body.setAttribute("aria-activedescendant", all[next].id);
    all[next].scrollIntoView({ block: "nearest" });
  }

  function selected(body) {
    const all = options(box(body));
    return all.find((option) => option.getAttribute("aria-selected") === "true") || all[0];
  }

  function insert(body, option) {
    const found = token(body);
    if (!found || !option) return;
    const text = `@${option.dataset.mentionLabel} `;
    const end = body.selectionStart;
    body.value = body.value.slice(0, found.start) + text + body.value.slice(end);
    const caret = found.start + text.length;
    body.setSelectionRange(caret, caret);
    const field = body.form.querySelector("[data-composer-mentions]");
    const ids = field.value ? field.value.split(",") : [];
    if (!ids.includes(option.dataset.mentionId)) ids.push(option.dataset.mentionId);
    field.value = ids.join(",");
    close(body);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  document.addEventListener("input", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (!body || !box(body) || !window.htmx) return;
    const found = noteMode(body) ? token(body) : null;
    clearTimeout(timer);
    if (!found) {
      close(body);
      return;
    }
    timer = setTimeout(() => {
      const list = box(body);
      const url = `${list.dataset.mentionUrl}?q=${encodeURIComponent(found.prefix)}`;
      window.htmx.ajax("GET", url, { target: list, swap: "innerHTML", source: body }).then(() => {
        if (!token(body)) return close(body);
        list.hidden = false;
        body.setAttribute("aria-controls", "mention-suggestions");
        body.setAttribute("aria-expanded", "true");
        if (options(list).length) highlight(body, 0);
        else body.removeAttribute("aria-activedescendant");
      });
    }, 120);
  });

  document.addEventListener("keydown", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (!body || !isOpen(body) || event.isComposing) return;
    const all = options(box(body));
    const index = all.indexOf(selected(body));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      highlight(body, index + (event.key === "ArrowDown" ? 1 : -1));
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
      insert(body, selected(body));
    } else if (event.key === "Escape") {
      close(body);
    } else {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
  }, true);

  document.addEventListener("mousedown", (event) => {
    const option = event.target.closest && event.target.closest("#mention-suggestions [role='option']");
    if (!option) return;
    event.preventDefault(); // keep the focus (and the caret) in the composer
    insert(option.closest("form").querySelector("[data-composer-body]"), option);
  });

  document.addEventListener("focusout", (event) => {
    const body = event.target.closest && event.target.closest("[data-composer-body]");
    if (body) setTimeout(() => { if (document.activeElement !== body) close(body); }, 100);
  });

  // A sent note takes its mentions with it.
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!form || !form.matches || !form.matches("[data-composer]") || !event.detail.successful) return;
    const field = form.querySelector("[data-composer-mentions]");
    if (field) field.value = "";
  });
})();
