// The notification centre (templates/omnichannel/agent_notifications.html): the server pushes
// the bell's count and list, and an announcement (#notify-alert) for each new notification.
// While the tab is hidden, an announcement the member wants in the browser becomes a system
// notification (the Notifications API); permission is asked only from a click.
(() => {
  const supported = "Notification" in window;

  function announce(alert) {
    if (!alert || !alert.dataset.notifyId || alert.dataset.notifyBrowser !== "1") return;
    if (!supported || Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden") return; // the bell already shows it
    const shown = new Notification(alert.dataset.notifyTitle || "Centro", {
      body: alert.dataset.notifyText || "",
      tag: `centro-notification-${alert.dataset.notifyId}`,
    });
    shown.onclick = () => {
      window.focus();
      window.location.assign(alert.dataset.notifyUrl || "/me/notifications/");
      shown.close();
    };
  }

  // Each new notification replaces the announcement element (out of band).
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.target && event.target.id === "notify-alert") {
      announce(document.getElementById("notify-alert"));
    }
  });

  // Escape closes the panel and gives the focus back to the bell.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const bell = event.target.closest && event.target.closest("[data-notify-bell][open]");
    if (!bell) return;
    bell.open = false;
    bell.querySelector("summary").focus();
  });

  // The "Allow browser notifications" buttons (the bell's panel, the preferences page) show
  // only while the browser has not been asked; the preferences page also says the state.
  function showPermission() {
    const permission = supported ? Notification.permission : "unsupported";
    document.querySelectorAll("[data-notify-permission]").forEach((button) => {
      button.hidden = permission !== "default";
    });
    const state = document.querySelector("[data-notify-permission-state]");
    if (!state) return;
    state.textContent = {
      granted: "Allowed in this browser.",
      denied: "Blocked in this browser: allow them in the site's settings of your browser.",
      default: "Not allowed yet in this browser.",
      unsupported: "This browser does not support notifications.",
    }[permission] || "";
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-notify-permission]");
    if (!button || !supported) return;
    Notification.requestPermission().then(showPermission);
  });
  document.addEventListener("DOMContentLoaded", showPermission);
})();
