// Contacts pages: conveniences over forms that also work without JavaScript.
(() => {
  const selected = () => document.querySelectorAll('input[name="ids"][form="bulk-form"]:checked');

  function updateSelection() {
    const label = document.querySelector("[data-selected-count]");
    if (!label) return;
    const count = selected().length;
    label.textContent = count === 1 ? "The 1 contact ticked below" : `The ${count} contacts ticked below`;
    const pageBox = document.querySelector("[data-select-page]");
    const boxes = document.querySelectorAll('input[name="ids"][form="bulk-form"]');
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && count === boxes.length;
      pageBox.indeterminate = count > 0 && count < boxes.length;
    }
  }

  // Show only the fields the chosen bulk action uses.
  function showParams() {
    const action = document.querySelector("[data-bulk-action]");
    if (!action) return;
    document.querySelectorAll(".bulk-param").forEach((group) => {
      const used = group.dataset.for.split(" ").includes(action.value);
      group.hidden = !used;
      group.querySelectorAll("select, input").forEach((field) => { field.disabled = !used; });
    });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.matches("[data-select-page]")) {
      document.querySelectorAll('input[name="ids"][form="bulk-form"]').forEach((box) => {
        box.checked = target.checked;
      });
      updateSelection();
    } else if (target.matches('input[name="ids"]')) {
      const scope = document.querySelector('input[name="scope"][value="selected"]');
      if (scope && target.checked) scope.checked = true;
      updateSelection();
    } else if (target.matches("[data-bulk-action]")) {
      showParams();
    }
  });

  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Rows added by "More contacts" join the selection logic.
  document.addEventListener("htmx:afterSettle", updateSelection);

  document.addEventListener("DOMContentLoaded", () => {
    const pageBox = document.querySelector("[data-select-page]");
    if (pageBox) pageBox.hidden = false;
    showParams();
    updateSelection();
  });
})();
