// The admin's only script, and an optional one: every page works without it.
// It keeps the dashboard's figures current while the page is open, and asks before
// forms marked data-confirm (removing someone, signing out everywhere) are sent.
"use strict";

(() => {
  const live = document.querySelector("[data-live]");
  if (live) {
    const every = 1000 * (Number(live.dataset.every) || 15);
    const refresh = async () => {
      if (document.hidden) return;
      try {
        const response = await fetch(live.dataset.live, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
          redirect: "manual", // signed out meanwhile: keep what is shown
        });
        if (response.status === 200) live.innerHTML = await response.text();
      } catch {
        // Offline for a moment: the figures shown stay until the next try.
      }
    };
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", refresh);
  }

  document.addEventListener("submit", (event) => {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();
