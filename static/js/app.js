/* Agent Kanban: what every page shares. Times in the viewer's zone, toasts,
   a confirmation dialog, and a small client for the REST API (session + CSRF). */
(() => {
  "use strict";

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  class ApiError extends Error {
    constructor(message, status, code, body) {
      super(message);
      this.status = status;
      this.code = code;
      this.body = body;
    }
  }

  async function request(method, url, { body, headers = {}, accept = "application/json" } = {}) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: accept, "X-CSRFToken": csrfToken(), ...headers },
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError("The server cannot be reached. Check the connection and retry.", 0, "network");
    }
    if (response.redirected && new URL(response.url).pathname === "/login/") {
      throw new ApiError("Your session has ended: log in again.", 401, "logged_out");
    }
    return response;
  }

  /** JSON API call; throws ApiError with the server's own message on failure. */
  async function api(method, url, body, headers) {
    const response = await request(method, url, { body, headers });
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data?.error || {};
      const message = error.message || data?.detail || `The server answered ${response.status}.`;
      throw new ApiError(message, response.status, error.code || "error", data);
    }
    return data;
  }

  /** An HTML fragment: {status, html}. */
  async function fragment(url) {
    const response = await request("GET", url, { headers: { "X-Fragment": "1" }, accept: "text/html" });
    if (!response.ok && response.status !== 204) {
      throw new ApiError(`Could not load ${url} (${response.status}).`, response.status, "fragment");
    }
    return { status: response.status, html: response.status === 204 ? "" : await response.text() };
  }

  // ------------------------------------------------------------ times

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function shortDuration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return "now";
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
  }

  /** <time datetime data-local> in the viewer's own time zone and format. */
  function formatTimes(root = document) {
    for (const el of root.querySelectorAll("time[data-local]")) {
      const when = new Date(el.getAttribute("datetime"));
      if (Number.isNaN(when.getTime())) continue;
      el.textContent = dateTime.format(when);
      el.title = when.toISOString();
    }
  }

  // ------------------------------------------------------------ toasts and dialogs

  function toast(message, kind = "info", ms = 5000) {
    const host = document.getElementById("toasts");
    if (!host) return;
    const el = document.createElement("div");
    el.className = `toast ${kind}`;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.textContent = message;
    host.append(el);
    setTimeout(() => el.remove(), ms);
  }

  /** A modal yes/no question; resolves true when confirmed. */
  function confirmDialog(message, okLabel = "Delete") {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog) return Promise.resolve(window.confirm(message));
    dialog.querySelector("[data-confirm-message]").textContent = message;
    dialog.querySelector("[data-confirm-ok]").textContent = okLabel;
    dialog.returnValue = "cancel";
    dialog.showModal();
    dialog.querySelector("[data-confirm-cancel]").focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  }

  // Forms that destroy something ask first.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
    event.preventDefault();
    if (await confirmDialog(form.dataset.confirm, form.dataset.confirmLabel || "Delete")) {
      form.dataset.confirmed = "1";
      form.requestSubmit();
    }
  });

  // Details menus (new board, rename) close when clicking elsewhere.
  document.addEventListener("click", (event) => {
    for (const details of document.querySelectorAll("details[open].rename, details[open].new-board")) {
      if (!details.contains(event.target)) details.open = false;
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    formatTimes();
    for (const flash of document.querySelectorAll(".flash-stack .flash.success")) {
      setTimeout(() => flash.remove(), 6000);
    }
  });

  window.AK = { api, fragment, ApiError, toast, confirmDialog, formatTimes, shortDuration };
})();
