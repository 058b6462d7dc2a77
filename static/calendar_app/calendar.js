// The calendar page (templates/calendar_app/calendar.html).
//
// - Blocks carry their place as data-* (the CSP forbids style attributes): laid out here, again
//   whenever the body is swapped (an action, or a colleague's change pushed over the websocket).
// - The websocket is told what the page shows, so pushed bodies match it.
// - Dragging a block to another time asks for a confirmation, then posts the same "move" form
//   the detail panel offers (the keyboard way); the answer re-renders the body, so a move that
//   was refused snaps back, and the status line says why (with the nearest free slots).
// - Phones open on the agenda unless a view was chosen.
(() => {
  const DAY = 24 * 60;
  const SNAP = 15;
  const root = document.getElementById("calendar");
  if (!root) return;

  const narrow = window.matchMedia("(max-width: 720px)");
  if (root.hasAttribute("data-default-view") && root.dataset.view !== "agenda" && narrow.matches) {
    const params = new URLSearchParams(root.dataset.query);
    params.set("view", "agenda");
    window.location.replace(`?${params}`);
    return;
  }

  // htmx's settle step copies the old element's style attribute onto its re-rendered twin
  // (same id): with the CSP that is a refused inline style. Blocks get their style from
  // layout() instead.
  if (window.htmx) {
    window.htmx.config.attributesToSettle = window.htmx.config.attributesToSettle
      .filter((name) => name !== "style");
  }

  if (window.Centro && window.Centro.realtime) {
    // "seen": what the body shows, so a socket opening on an unchanged calendar is not sent
    // the same body again (it would replace the blocks under the reader's mouse).
    window.Centro.realtime.describe = () => {
      const body = document.getElementById("calendar-body");
      const params = new URLSearchParams(root.dataset.query);
      if (body) params.set("seen", body.dataset.seen);
      return { list: params.toString() };
    };
  }

  let scrollTop = null;

  function layout() {
    root.querySelectorAll("[data-color]").forEach((el) => {
      el.style.setProperty("--type-color", el.dataset.color);
    });
    root.querySelectorAll(".cal-appt[data-top]").forEach((el) => {
      const lanes = Number(el.dataset.lanes || 1);
      const lane = Number(el.dataset.lane || 0);
      el.style.top = `${el.dataset.top}%`;
      el.style.height = `${el.dataset.height}%`;
      el.style.left = `${(lane / lanes) * 100}%`;
      el.style.width = `${100 / lanes}%`;
    });
    const scroller = root.querySelector("[data-cal-scroll]");
    if (scroller) {
      // First view: the working day; afterwards wherever the reader had scrolled to.
      scroller.scrollTop = scrollTop === null ? (scroller.scrollHeight * 8) / 24 : scrollTop;
    }
  }

  document.addEventListener("scroll", (event) => {
    if (event.target.matches && event.target.matches("[data-cal-scroll]")) {
      scrollTop = event.target.scrollTop;
    }
  }, true);

  new MutationObserver(() => layout()).observe(root.querySelector(".cal-layout"), { childList: true });
  document.addEventListener("htmx:afterSettle", (event) => {
    layout();
    // On a phone the details open above the agenda: bring them into view.
    const detail = document.getElementById("calendar-detail");
    if (event.target === detail && narrow.matches) detail.scrollIntoView({ block: "start" });
  });
  layout();

  // Refusals (taken slot, expired hold) come back as 4xx with the status line to show.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    const target = event.detail.target;
    if (xhr.status >= 400 && xhr.status < 500 && target && target.id === "calendar-flash") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // --- drag to move -----------------------------------------------------------------------
  const dialog = document.getElementById("cal-move-dialog");
  const form = dialog.querySelector("[data-cal-move-form]");
  let drag = null;
  let pending = null;
  let swallowClick = false;

  const pad = (n) => String(n).padStart(2, "0");
  const hhmm = (minutes) => `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;

  function columnAt(x, y) {
    const hit = document.elementFromPoint(x, y);
    return hit && hit.closest ? hit.closest(".cal-day-col") : null;
  }

  function snapBack(state) {
    state.el.classList.remove("dragging");
    if (state.el.parentElement !== state.col) state.col.appendChild(state.el);
    state.el.style.top = state.top;
  }

  document.addEventListener("pointerdown", (event) => {
    const el = event.target.closest(".cal-appt[data-movable][data-top]");
    if (!el || event.button !== 0 || pending) return;
    const box = el.getBoundingClientRect();
    const col = el.closest(".cal-day-col");
    drag = {
      el, col, top: el.style.top, x: event.clientX, y: event.clientY, moved: false,
      grab: ((event.clientY - box.top) / col.getBoundingClientRect().height) * DAY,
    };
  });

  document.addEventListener("pointermove", (event) => {
    if (!drag) return;
    if (!drag.moved && Math.hypot(event.clientX - drag.x, event.clientY - drag.y) < 6) return;
    drag.moved = true;
    drag.el.classList.add("dragging");
    event.preventDefault();
    const col = columnAt(event.clientX, event.clientY) || drag.target || drag.col;
    const box = col.getBoundingClientRect();
    let minutes = ((event.clientY - box.top) / box.height) * DAY - drag.grab;
    minutes = Math.min(Math.max(Math.round(minutes / SNAP) * SNAP, 0), DAY - SNAP);
    if (drag.el.parentElement !== col) col.appendChild(drag.el);
    drag.el.style.top = `${(minutes / DAY) * 100}%`;
    drag.target = col;
    drag.minutes = minutes;
  });

  document.addEventListener("pointerup", () => {
    const state = drag;
    drag = null;
    if (!state || !state.moved) return;
    swallowClick = true;
    setTimeout(() => { swallowClick = false; }, 0);
    if (state.minutes === undefined) return snapBack(state);
    state.el.classList.remove("dragging");
    pending = state;
    const date = state.target.dataset.date;
    const time = hhmm(state.minutes);
    form.action = state.el.dataset.moveUrl;
    form.elements.move_date.value = date;
    form.elements.move_time.value = time;
    const day = new Date(`${date}T12:00:00`).toLocaleDateString(undefined,
      { weekday: "long", day: "numeric", month: "long" });
    dialog.querySelector("[data-cal-move-text]").textContent =
      `Move ${state.el.dataset.label} to ${day} at ${time}?`;
    dialog.showModal();
  });

  document.addEventListener("pointercancel", () => {
    if (drag && drag.moved) snapBack(drag);
    drag = null;
  });

  // The click that ends a drag is not a click on the appointment.
  document.addEventListener("click", (event) => {
    if (swallowClick && event.target.closest(".cal-appt")) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const state = pending;
    pending = null;
    dialog.close();
    if (!window.htmx) return form.submit();
    window.htmx.ajax("POST", form.action, {
      source: form,
      values: Object.fromEntries(new FormData(form)),
      target: "#calendar-flash",
      swap: "outerHTML",
    }).catch(() => state && snapBack(state));
  });

  dialog.querySelector("[data-cal-move-cancel]").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    if (pending) snapBack(pending);  // Escape or "keep it": nothing was sent
    pending = null;
  });
})();
