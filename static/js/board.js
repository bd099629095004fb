/* The board page's core: placing cards, refreshing them from the server's own card
   template, moves (keyboard here, pointer in board-drag.js), new cards, counts and
   clocks. The card detail (board-detail.js), the columns editor (board-columns.js) and
   live updates (board-live.js) plug into `AK.board`. Writes go through the REST API.

   A long column arrives a screenful at a time: the page holds the first cards of each
   column, and the next ones are fetched as the column scrolls (or as the keyboard goes
   past the last one). A column's list knows how many cards follow the ones it holds
   (`data-more`) and the position of the last card the server sent (`data-after`):
   every card of the column up to that position is in the page, so a card that the
   server places after it (a live update, a move by someone else) is left out until
   the column is scrolled to it, then fetched as it is by then. */
(() => {
  "use strict";

  const AK = window.AK;
  const board = document.getElementById("board");
  if (!board || !AK) return;

  const boardId = Number(board.dataset.boardId);
  const filterQuery = board.dataset.filters || "";
  const me = board.dataset.user;
  // Viewers get the board without its editing controls (the server refuses writes anyway).
  const readOnly = board.dataset.readonly === "1";
  const state = {
    seq: Number(board.dataset.lastSeq) || 0,
    press: null,
    drag: null,
    justDragged: false,
    openTicket: null,
    deferred: new Set(),
  };

  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
  const columnsHost = () => $("[data-columns]", board);
  const columns = () => $$("[data-column]", board);
  const columnById = (id) => $(`[data-column][data-column-id="${CSS.escape(String(id))}"]`, board);
  const cardById = (id) => document.getElementById(`card-${id}`);
  const listOf = (column) => $("[data-cards]", column);
  const columnOf = (card) => card.closest("[data-column]");
  const cardsIn = (list) => [...list.children].filter((el) => el.matches("[data-card]"));
  const lists = () => $$("[data-cards]", board);
  // Cards that follow, in the column, the ones the page holds (0: it holds them all).
  const moreIn = (list) => Number(list.dataset.more) || 0;
  const MORE_CARDS = 100;
  // How close to the end of what is loaded (in pixels) a column fetches its next cards.
  const LOAD_AHEAD = 2400;
  const announcer = $("[data-announce]");

  // How many refreshes are under way; `data-syncing` lets tests (and styles) know.
  let syncing = 0;
  function track(promise) {
    syncing += 1;
    board.dataset.syncing = "1";
    return promise.finally(() => {
      syncing -= 1;
      if (!syncing) delete board.dataset.syncing;
    });
  }

  function announce(text) {
    announcer.textContent = "";
    requestAnimationFrame(() => {
      announcer.textContent = text;
    });
  }

  function withFilters(url) {
    if (!filterQuery) return url;
    return url + (url.includes("?") ? "&" : "?") + filterQuery;
  }

  function titleOf(card) {
    return $(".card-title", card)?.textContent.trim() || `#${card.dataset.id}`;
  }

  // ------------------------------------------------------------ placing cards

  /** Board order: the fractional position key (byte order), then the id. */
  function compareCards(a, b) {
    const pa = a.dataset.position;
    const pb = b.dataset.position;
    if (pa !== pb) return pa < pb ? -1 : 1;
    return Number(a.dataset.id) - Number(b.dataset.id);
  }

  /** Past what a partly loaded column holds: the card comes when the column is scrolled to it. */
  function beyond(card, list) {
    return moreIn(list) > 0 && !(card.dataset.position <= (list.dataset.after ?? ""));
  }

  /** Put a card where its column and position say it belongs (or out of the page, when
      that is past what its column holds); false when it is left out. */
  function placeCard(card) {
    const column = columnById(card.dataset.columnId);
    if (!column) {
      card.remove();
      return false;
    }
    const list = listOf(column);
    if (beyond(card, list)) {
      if (card.isConnected) removeCard(card);
      // A fetch of the column under way may have been answered before this change.
      loads.get(list)?.missed.add(Number(card.dataset.id));
      return false;
    }
    const before = cardsIn(list).find((other) => other !== card && compareCards(card, other) < 0);
    if (card.parentElement !== list || card.nextElementSibling !== before) {
      list.insertBefore(card, before || null);
    }
    return true;
  }

  function install(fresh, current) {
    const hadFocus = current && document.activeElement === current;
    if (current) current.replaceWith(fresh);
    if (!placeCard(fresh)) return;
    if (hadFocus) fresh.focus({ preventScroll: true });
    if (!current) {
      fresh.classList.add("flash");
      setTimeout(() => fresh.classList.remove("flash"), 1300);
    }
    refreshClock(fresh);
  }

  function removeCard(card) {
    if (document.activeElement === card) {
      const next = card.nextElementSibling?.matches("[data-card]")
        ? card.nextElementSibling
        : card.previousElementSibling;
      next?.focus?.();
    }
    card.remove();
  }

  // ------------------------------------------------------------ refreshing from the server

  const refresh = { ids: new Set(), timer: null, waiters: [], running: Promise.resolve() };

  /** Fetch the named cards (as the page's filters see them) and apply them. Batched;
      the promise settles once they are on the page. */
  function refreshCards(ids, delay = 40) {
    for (const id of ids) refresh.ids.add(Number(id));
    clearTimeout(refresh.timer);
    const done = track(new Promise((resolve) => refresh.waiters.push(resolve)));
    refresh.timer = setTimeout(() => {
      const waiters = refresh.waiters;
      refresh.waiters = [];
      refresh.running = refresh.running
        .then(flushRefresh)
        .catch(() => {})
        .then(() => waiters.forEach((resolve) => resolve()));
    }, delay);
    return done;
  }

  async function flushRefresh() {
    const ids = [...refresh.ids];
    refresh.ids.clear();
    for (let start = 0; start < ids.length; start += 200) {
      const chunk = ids.slice(start, start + 200);
      let result;
      try {
        result = await AK.fragment(withFilters(`/boards/${boardId}/cards/?ids=${chunk.join(",")}`));
      } catch (error) {
        AK.toast(error.message, "error");
        continue;
      }
      const template = document.createElement("template");
      template.innerHTML = result.html;
      const fresh = new Map($$("[data-card]", template.content).map((card) => [Number(card.dataset.id), card]));
      for (const id of chunk) applyFresh(id, fresh.get(id));
    }
    updateShown();
    scheduleCounts();
  }

  function busy(card) {
    return card && (card.classList.contains("pending") || state.drag?.card === card);
  }

  function applyFresh(id, fresh) {
    const current = cardById(id);
    if (busy(current)) {
      state.deferred.add(id);
      return;
    }
    if (!fresh) {
      if (current) removeCard(current);
      return;
    }
    if (current && Number(current.dataset.version) > Number(fresh.dataset.version)) return;
    install(fresh, current);
  }

  function runDeferred() {
    if (!state.deferred.size) return;
    const ids = [...state.deferred];
    state.deferred.clear();
    refreshCards(ids);
  }

  // Column counts and WIP state come from the API, which counts what filters hide too.
  let countsTimer = null;
  let countsDone = null;
  function scheduleCounts() {
    clearTimeout(countsTimer);
    if (!countsDone) {
      let resolve;
      track(new Promise((done) => (resolve = done)));
      countsDone = resolve;
    }
    countsTimer = setTimeout(() => {
      const done = countsDone;
      countsDone = null;
      updateCounts().finally(done);
    }, 150);
  }

  async function updateCounts() {
    let data;
    try {
      data = await AK.api("GET", `/api/boards/${boardId}/columns`);
    } catch {
      return;
    }
    const shownIds = columns().map((column) => Number(column.dataset.columnId));
    if (data.length !== shownIds.length || data.some((column, i) => column.id !== shownIds[i])) {
      resync();
      return;
    }
    // What the partly loaded columns hold beyond the page: without filters the API's
    // counts say; with filters the page's own count of each column, as filtered.
    let filtered = null;
    if (filterQuery && lists().some((list) => moreIn(list) > 0)) {
      try {
        filtered = (await AK.api("GET", withFilters(`/boards/${boardId}/cards/?counts=1`))).columns;
      } catch {
        filtered = null;
      }
    }
    let total = 0;
    for (const info of data) {
      total += info.ticket_count;
      const column = columnById(info.id);
      const list = listOf(column);
      const count = filterQuery ? filtered?.[info.id] : info.ticket_count;
      // Only a fetch of the column says it is complete: a count read while a card is on
      // its way could say so wrongly, and the rest of the column would never load.
      if (moreIn(list) > 0 && count !== undefined) {
        list.dataset.more = String(Math.max(1, count - cardsIn(list).length));
      }
      const counter = $("[data-count]", column);
      counter.textContent = info.wip_limit ? `${info.ticket_count} / ${info.wip_limit}` : `${info.ticket_count}`;
      column.classList.toggle("is-full", Boolean(info.is_full));
      column.classList.toggle("is-over", Boolean(info.wip_limit && info.ticket_count > info.wip_limit));
      column.dataset.wip = info.wip_limit ?? "";
    }
    board.dataset.total = total;
    updateShown();
  }

  function updateShown() {
    const shown = $$("[data-card]", board).length + lists().reduce((sum, list) => sum + moreIn(list), 0);
    const total = Number(board.dataset.total || shown);
    $("[data-shown]").textContent = filterQuery
      ? `Showing ${shown} of ${total} cards`
      : `${total} card${total === 1 ? "" : "s"}`;
  }

  /** Re-render the columns from the page itself (after a columns change, or a gap). */
  let resyncTimer = null;
  let resyncDone = null;
  function resync() {
    clearTimeout(resyncTimer);
    if (!resyncDone) {
      let resolve;
      track(new Promise((done) => (resolve = done)));
      resyncDone = resolve;
    }
    resyncTimer = setTimeout(() => {
      const done = resyncDone;
      resyncDone = null;
      doResync().finally(done);
    }, 50);
  }

  async function doResync() {
    if (state.drag || $$(".card.pending", board).length) {
      resync();
      return;
    }
    // As many cards per column as the page holds, so a scrolled column keeps its place.
    const held = Math.max(0, ...lists().map((list) => cardsIn(list).length));
    let result;
    try {
      result = await AK.fragment(withFilters(`/boards/${boardId}/?cards=${held}`));
    } catch {
      return;
    }
    const page = new DOMParser().parseFromString(result.html, "text/html");
    const focusedId = document.activeElement?.matches?.("[data-card]") ? document.activeElement.dataset.id : null;
    const openComposer = $$("[data-composer]:not([hidden])", board).map((form) => columnOf(form).dataset.columnId);
    const anchors = lists().map(scrollAnchor);
    columnsHost().replaceWith(page.querySelector("[data-columns]"));
    anchors.forEach(restoreScroll);
    for (const id of openComposer) {
      const column = columnById(id);
      if (column) $("[data-composer]", column).hidden = false;
    }
    const columnsDialog = document.getElementById("columns-dialog");
    if (!columnsDialog.open) {
      $("[data-column-rows]", columnsDialog).replaceWith(page.querySelector("[data-column-rows]"));
    }
    $("[data-label-filter]").innerHTML = page.querySelector("[data-label-filter]").innerHTML;
    $("[data-shown]").textContent = page.querySelector("[data-shown]").textContent;
    $("[data-board-name]").textContent = page.querySelector("[data-board-name]").textContent;
    if (focusedId) cardById(focusedId)?.focus({ preventScroll: true });
    startLists();
    refreshClock(board);
  }

  /** The card a column is scrolled to (the focused one, else the first in view) and how
   * far below the column's top it sits: card heights are estimates until drawn
   * (content-visibility), so a redraw puts that card back there, not the scroll offset. */
  function scrollAnchor(list) {
    const top = list.getBoundingClientRect().top;
    const focused = list.contains(document.activeElement) ? document.activeElement.closest("[data-card]") : null;
    const card = focused || cardsIn(list).find((each) => each.getBoundingClientRect().bottom > top);
    return card ? { cardId: card.dataset.id, offset: card.getBoundingClientRect().top - top } : null;
  }

  function restoreScroll(anchor) {
    const card = anchor && cardById(anchor.cardId);
    const list = card?.closest("[data-cards]");
    if (list) list.scrollTop += card.getBoundingClientRect().top - list.getBoundingClientRect().top - anchor.offset;
  }

  // ------------------------------------------------------------ the rest of a long column

  // A column's fetch under way: its promise, and the cards left out meanwhile.
  const loads = new Map();

  /** Where each column's loaded cards end; then fetch what is already near the view. */
  function startLists() {
    for (const list of lists()) {
      const cards = cardsIn(list);
      list.dataset.after = cards.length ? cards[cards.length - 1].dataset.position : "";
    }
    setTimeout(() => lists().forEach(checkList), 0);
  }

  /** Fetch the column's next cards when the end of what it holds is near the view. */
  function checkList(list) {
    if (!moreIn(list) || loads.has(list) || !list.isConnected) return;
    if (list.scrollTop + list.clientHeight >= list.scrollHeight - LOAD_AHEAD) {
      loadMore(list).then((loaded) => loaded && checkList(list));
    }
  }

  /** The column's next cards; resolves true once they are in the page. */
  function loadMore(list) {
    if (!moreIn(list)) return Promise.resolve(false);
    if (!loads.has(list)) {
      const load = { missed: new Set(), done: null };
      loads.set(list, load);
      load.done = track(fetchMore(list, load)).finally(() => loads.delete(list));
    }
    return loads.get(list).done;
  }

  async function fetchMore(list, load) {
    const column = columnOf(list);
    const after = list.dataset.after || "";
    let data;
    try {
      data = await AK.api(
        "GET",
        withFilters(
          `/boards/${boardId}/cards/?column=${column.dataset.columnId}&after=${encodeURIComponent(after)}&limit=${MORE_CARDS}`,
        ),
      );
    } catch (error) {
      AK.toast(error.message, "error");
      return false;
    }
    if (!list.isConnected) return false;
    const template = document.createElement("template");
    template.innerHTML = data.html;
    const fresh = $$("[data-card]", template.content);
    const held = cardsIn(list);
    // Cards moved here past the old end (by this page) sit among the new ones.
    const inOrder = !held.some((card) => card.dataset.position > after);
    if (fresh.length) list.dataset.after = fresh[fresh.length - 1].dataset.position;
    list.dataset.more = String(data.more);
    const added = [];
    for (const card of fresh) {
      const current = cardById(card.dataset.id);
      if (current) {
        if (busy(current) || Number(current.dataset.version) >= Number(card.dataset.version)) continue;
        current.replaceWith(card);
      }
      if (inOrder && !current) list.append(card);
      else placeCard(card);
      added.push(card);
    }
    for (const card of added) refreshClock(card);
    if (load.missed.size) refreshCards([...load.missed]);
    updateShown();
    return true;
  }

  board.addEventListener(
    "scroll",
    (event) => {
      if (event.target.matches?.("[data-cards]")) checkList(event.target);
    },
    { capture: true, passive: true },
  );

  // ------------------------------------------------------------ moving cards

  function neighbours(card) {
    let prev = card.previousElementSibling;
    while (prev && !prev.matches("[data-card]")) prev = prev.previousElementSibling;
    let next = card.nextElementSibling;
    while (next && !next.matches("[data-card]")) next = next.nextElementSibling;
    return { prev, next };
  }

  /** The position that puts the card exactly where it now is in the page. */
  function positionHere(card) {
    const { prev, next } = neighbours(card);
    if (prev) return { after: Number(prev.dataset.id) };
    if (next) return { before: Number(next.dataset.id) };
    return "bottom";
  }

  function snapBack(card) {
    placeCard(card);
    card.classList.add("snap-back");
    setTimeout(() => card.classList.remove("snap-back"), 500);
  }

  /** The card is already where the person put it; ask the server to agree. */
  function commitMove(card) {
    return track(saveMove(card));
  }

  async function saveMove(card) {
    const column = columnOf(card);
    const id = Number(card.dataset.id);
    card.classList.add("pending");
    try {
      const ticket = await AK.api("POST", `/api/tickets/${id}/move`, {
        column: column.dataset.columnName,
        position: positionHere(card),
        version: Number(card.dataset.version),
      });
      card.dataset.version = ticket.version;
      card.dataset.position = ticket.position;
      card.dataset.columnId = ticket.column_id;
      // Put just after the last card the server sent: there is nothing in between.
      const list = card.parentElement;
      const { prev } = neighbours(card);
      if (list && prev && beyond(card, list) && prev.dataset.position === list.dataset.after) {
        list.dataset.after = ticket.position;
      }
      announce(`Moved “${titleOf(card)}” to ${ticket.current_column}.`);
    } catch (error) {
      snapBack(card);
      AK.toast(error.message, "error", 7000);
      announce(`Not moved: ${error.message}`);
    } finally {
      card.classList.remove("pending");
      state.deferred.add(id);
      runDeferred();
      scheduleCounts();
    }
  }

  function moveByKey(card, key) {
    if (card.classList.contains("pending")) return;
    const list = card.parentElement;
    const siblings = cardsIn(list);
    const index = siblings.indexOf(card);
    if (key === "ArrowUp" || key === "ArrowDown") {
      const other = siblings[index + (key === "ArrowUp" ? -1 : 1)];
      if (!other && key === "ArrowDown" && moreIn(list)) {
        // The last card loaded: its next one is still on the server.
        loadMore(list).then((loaded) => loaded && moveByKey(card, key));
        return;
      }
      if (!other) return;
      if (key === "ArrowUp") list.insertBefore(card, other);
      else other.after(card);
    } else {
      const all = columns();
      const target = all[all.indexOf(columnOf(card)) + (key === "ArrowLeft" ? -1 : 1)];
      if (!target) return;
      const targetList = listOf(target);
      const targetCards = cardsIn(targetList);
      targetList.insertBefore(card, targetCards[Math.min(index, targetCards.length)] || null);
    }
    card.focus({ preventScroll: false });
    card.scrollIntoView({ block: "nearest", inline: "nearest" });
    commitMove(card);
  }

  function focusNeighbour(card, key) {
    const siblings = cardsIn(card.parentElement);
    const index = siblings.indexOf(card);
    let target = null;
    if (key === "ArrowUp") target = siblings[index - 1];
    else if (key === "ArrowDown") {
      target = siblings[index + 1];
      if (!target && moreIn(card.parentElement)) {
        loadMore(card.parentElement).then((loaded) => loaded && focusNeighbour(card, key));
        return;
      }
    } else {
      const all = columns();
      let position = all.indexOf(columnOf(card));
      const step = key === "ArrowLeft" ? -1 : 1;
      for (position += step; position >= 0 && position < all.length && !target; position += step) {
        const list = listOf(all[position]);
        const others = cardsIn(list);
        if (index >= others.length && moreIn(list)) {
          // The card level with this one is further down than the column has loaded.
          loadMore(list).then((loaded) => loaded && focusNeighbour(card, key));
          return;
        }
        target = others[Math.min(index, others.length - 1)];
      }
    }
    if (target) {
      target.focus();
      target.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  // ------------------------------------------------------------ clicks and keys

  board.addEventListener("click", (event) => {
    if (state.justDragged) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    const addButton = event.target.closest("[data-add-card]");
    if (addButton) {
      openComposer(columnOf(addButton));
      return;
    }
    if (event.target.closest("[data-composer-cancel]")) {
      closeComposer(event.target.closest("[data-composer]"));
      return;
    }
    if (event.target.closest("[data-open-columns]")) {
      B.openColumnsEditor();
      return;
    }
    if (event.target.closest("[data-open-help]")) {
      document.getElementById("help-dialog").showModal();
      return;
    }
    const card = event.target.closest("[data-card]");
    if (!card) return;
    // A modified click on the title opens the shareable link in a new tab as usual.
    if (event.target.closest("a") && (event.metaKey || event.ctrlKey || event.shiftKey || event.button === 1)) return;
    event.preventDefault();
    B.openDetail(Number(card.dataset.id));
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.drag) {
      event.preventDefault();
      B.cancelDrag();
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const target = event.target;
    if (target.closest?.("input, textarea, select, [contenteditable]")) return;
    if (event.key === "/" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      $('[data-filters-form] input[name="q"]').focus();
      return;
    }
    if (event.key === "?") {
      event.preventDefault();
      document.getElementById("help-dialog").showModal();
      return;
    }
    const card = target.closest?.("[data-card]");
    if (!card) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      B.openDetail(Number(card.dataset.id));
    } else if (event.key.startsWith("Arrow")) {
      event.preventDefault();
      if ((event.altKey || event.shiftKey) && !readOnly) moveByKey(card, event.key);
      else focusNeighbour(card, event.key);
    } else if (event.key === "n" && !readOnly) {
      event.preventDefault();
      openComposer(columnOf(card));
    }
  });

  // Choosing a filter applies it; typing a search waits for Enter.
  $("[data-filters-form]").addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox]")) event.currentTarget.requestSubmit();
  });
  $("[data-filters-form]").addEventListener("submit", (event) => {
    // Leave empty fields out, so a shared link stays short.
    for (const field of event.currentTarget.elements) {
      if (field.name && !field.value) field.disabled = true;
    }
  });

  document.getElementById("help-dialog").addEventListener("click", (event) => {
    if (event.target.closest("[data-close]") || event.target.id === "help-dialog") event.currentTarget.close();
  });

  // ------------------------------------------------------------ adding cards

  function openComposer(column) {
    const form = $("[data-composer]", column);
    form.hidden = false;
    $("textarea", form).focus();
  }

  function closeComposer(form) {
    form.hidden = true;
    $("textarea", form).value = "";
  }

  board.addEventListener("keydown", (event) => {
    const form = event.target.closest("[data-composer]");
    if (!form) return;
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      closeComposer(form);
    }
  });

  board.addEventListener("submit", async (event) => {
    const form = event.target.closest("[data-composer]");
    if (!form) return;
    event.preventDefault();
    const textarea = $("textarea", form);
    const title = textarea.value.trim();
    if (!title) return;
    const column = columnOf(form);
    textarea.disabled = true;
    try {
      const ticket = await AK.api("POST", "/api/tickets/", {
        board_id: boardId,
        column: column.dataset.columnName,
        title,
        position: "top",
      });
      textarea.value = "";
      await refreshCards([ticket.id], 0);
      if (!cardById(ticket.id)) AK.toast(`Card #${ticket.id} added; the filters hide it.`);
      announce(`Added “${title}” to ${column.dataset.columnName}.`);
    } catch (error) {
      AK.toast(error.message, "error", 7000);
    } finally {
      textarea.disabled = false;
      textarea.focus();
    }
  });

  // ------------------------------------------------------------ clocks: age in column, lease left

  // What Date#toLocaleString() shows, without building a formatter per call (5,000 cards).
  const sinceFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });

  // Text is only written when it changes: the server's rendering is usually still right.
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function refreshClock(root) {
    const now = Date.now();
    for (const el of $$("time[data-age]", root)) {
      const since = Date.parse(el.getAttribute("datetime"));
      setText(el, AK.shortDuration(now - since));
      if (!el.dataset.titled) {
        el.title = `${el.title} (in this column since ${sinceFormat.format(new Date(since))})`;
        el.dataset.titled = "1";
      }
    }
    for (const el of $$("time[data-until]", root)) {
      const left = Date.parse(el.getAttribute("datetime")) - now;
      const badge = el.closest(".badge-claim");
      if (left <= 0) {
        badge?.classList.add("expired");
        setText(el, "0m");
      } else {
        setText(el, left < 60000 ? "<1m" : AK.shortDuration(left));
      }
    }
  }

  // ------------------------------------------------------------ shared with the other board scripts

  const B = {
    root: board,
    boardId,
    me,
    state,
    $,
    $$,
    columnsHost,
    columns,
    lists,
    moreIn,
    loadMore,
    columnById,
    cardById,
    listOf,
    columnOf,
    cardsIn,
    announce,
    track,
    placeCard,
    removeCard,
    refreshCards,
    busy,
    runDeferred,
    scheduleCounts,
    updateShown,
    resync,
    doResync,
    neighbours,
    commitMove,
    refreshClock,
  };
  AK.board = B;

  // ------------------------------------------------------------ start (after every board script has loaded)

  document.addEventListener("DOMContentLoaded", () => {
    board.dataset.total = String(
      columns().reduce((sum, column) => sum + Number.parseInt($("[data-count]", column).textContent, 10), 0),
    );
    startLists();
    refreshClock(board);
    setInterval(() => refreshClock(board), 30000);
    B.connect();
    const wanted = Number(new URL(window.location.href).searchParams.get("card"));
    if (wanted) B.openDetail(wanted);
    board.dataset.ready = "1";
    board.dataset.readyAt = String(Math.round(performance.now()));
  });
})();
