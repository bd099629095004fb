/* The board page: live updates over the board's WebSocket. Resumes from the last
   sequence number seen, so a dropped connection loses nothing; shows its state. */
(() => {
  "use strict";

  const AK = window.AK;
  const B = AK?.board;
  if (!B) return;
  const { root: board, boardId, state, $, refreshCards, cardById, busy, removeCard, scheduleCounts, updateShown, resync } = B;

  const indicator = $("[data-live-indicator]");
  const live = { socket: null, attempt: 0, retry: null, ping: null, stopped: false };
  // Close codes (live/consumers.py): these say that trying again gets the same answer —
  // 4413 is a message over the size limit, which only a bug here sends. The others,
  // 4429 (instance full, too many connects or messages) and 4408 (silent) included,
  // back off and retry.
  const PERMANENT_CLOSE = new Set([4400, 4401, 4403, 4404, 4413]);

  function setLive(stateName, text) {
    indicator.dataset.state = stateName;
    $("[data-live-text]", indicator).textContent = text;
  }

  function connect() {
    clearTimeout(live.retry);
    if (live.stopped || live.socket) return;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}/ws/connect?board_id=${boardId}&since=${state.seq}`);
    live.socket = socket;
    if (live.attempt === 0) setLive("connecting", "Connecting…");
    socket.addEventListener("open", () => {
      live.attempt = 0;
      setLive("live", "Live");
      live.ping = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 20000);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(live.ping);
      if (live.socket !== socket) return;
      live.socket = null;
      if (live.stopped) return;
      if (PERMANENT_CLOSE.has(event.code)) {
        setLive("offline", event.code === 4404 ? "Board gone" : "Not connected");
        return;
      }
      // Back off, with jitter so that a restarted server is not stampeded.
      const delay = Math.min(15000, 500 * 2 ** live.attempt) * (0.75 + Math.random() * 0.5);
      live.attempt += 1;
      setLive(live.attempt > 4 ? "offline" : "reconnecting", live.attempt > 4 ? "Offline, retrying…" : "Reconnecting…");
      live.retry = setTimeout(connect, delay);
    });
  }

  function receive(message) {
    if (message.type === "unsubscribed" && message.reason === "board_deleted") {
      apply({ event: "board_deleted", data: {}, actor: null });
      return;
    }
    if (typeof message.seq !== "number" || !message.event) return;
    if (message.board_id !== undefined && Number(message.board_id) !== boardId) return;
    if (message.seq <= state.seq) return;
    const gap = message.seq > state.seq + 1;
    state.seq = message.seq;
    board.dataset.lastSeq = String(state.seq);
    apply(message);
    // Events arrive in order; a gap means some were never delivered, so redraw.
    if (gap && message.event !== "board_deleted") resync();
  }

  const TICKET_EVENTS = new Set([
    "ticket_created",
    "ticket_updated",
    "ticket_moved",
    "ticket_claimed",
    "ticket_released",
    "ticket_unblocked",
    "ticket_progress",
    "ticket_reviewed",
  ]);

  function apply(message) {
    const { event, data = {} } = message;
    if (TICKET_EVENTS.has(event)) {
      refreshCards([data.id]);
      if (state.openTicket === data.id) B.detail.changed(message);
    } else if (event === "ticket_deleted") {
      const card = cardById(data.id);
      if (card && !busy(card)) removeCard(card);
      scheduleCounts();
      updateShown();
      if (state.openTicket === data.id) B.detail.notice(`${message.actor || "Someone"} deleted this card.`, false);
    } else if (event.startsWith("comment_")) {
      if (state.openTicket === data.ticket_id) B.detail.refreshComments();
    } else if (event === "board_updated") {
      $("[data-board-name]").textContent = data.name;
      document.title = `${data.name} · Agent Kanban`;
    } else if (event === "columns_updated" || event === "column_respaced") {
      resync();
    } else if (event === "board_deleted") {
      live.stopped = true;
      live.socket?.close();
      setLive("offline", "Board deleted");
      AK.toast(`${message.actor || "Someone"} deleted this board.`, "error", 10000);
      setTimeout(() => window.location.assign("/"), 2500);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !live.socket && !live.stopped) {
      live.attempt = 0;
      connect();
    }
  });
  window.addEventListener("online", () => {
    if (!live.socket && !live.stopped) {
      live.attempt = 0;
      connect();
    }
  });
  window.addEventListener("pagehide", () => {
    live.stopped = true;
    live.socket?.close();
  });

  // Drop and restore the connection on purpose (the browser tests use it to prove
  // that events missed while away arrive on reconnecting).
  AK.live = {
    pause() {
      live.stopped = true;
      live.socket?.close();
      live.socket = null;
      setLive("offline", "Paused");
    },
    resume() {
      live.stopped = false;
      live.attempt = 0;
      connect();
    },
    seq: () => state.seq,
  };

  B.connect = connect;
})();
