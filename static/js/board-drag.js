/* The board page: drag and drop with pointer events (mouse, pen, and touch after a
   short hold). The card lands exactly where the placeholder shows; board.js saves it. */
(() => {
  "use strict";

  const AK = window.AK;
  const B = AK?.board;
  if (!B || B.root.dataset.readonly === "1") return;
  const { root: board, state, columns, columnsHost, listOf, columnOf, cardsIn, neighbours, placeCard, commitMove, runDeferred } = B;

  const DRAG_THRESHOLD = 5;
  const TOUCH_HOLD_MS = 350;

  board.addEventListener("pointerdown", (event) => {
    const card = event.target.closest("[data-card]");
    if (!card || event.button !== 0 || state.drag || card.classList.contains("pending")) return;
    if (event.target.closest("button, input, textarea, select")) return;
    state.press = { card, x: event.clientX, y: event.clientY, pointerId: event.pointerId, type: event.pointerType };
    if (event.pointerType === "touch") {
      state.press.timer = setTimeout(() => beginDrag(state.press.x, state.press.y), TOUCH_HOLD_MS);
    }
    document.addEventListener("pointermove", onPointerMove);
    document.addEventListener("pointerup", onPointerUp);
    document.addEventListener("pointercancel", onPointerCancel);
  });

  function endPress() {
    if (state.press?.timer) clearTimeout(state.press.timer);
    state.press = null;
    document.removeEventListener("pointermove", onPointerMove);
    document.removeEventListener("pointerup", onPointerUp);
    document.removeEventListener("pointercancel", onPointerCancel);
  }

  function onPointerMove(event) {
    const press = state.press;
    if (!press || event.pointerId !== press.pointerId) return;
    if (!state.drag) {
      const distance = Math.hypot(event.clientX - press.x, event.clientY - press.y);
      if (press.type === "touch") {
        // Moving before the hold is over means scrolling, not dragging.
        if (distance > 10) endPress();
        return;
      }
      if (distance < DRAG_THRESHOLD) return;
      beginDrag(press.x, press.y);
    }
    event.preventDefault();
    dragTo(event.clientX, event.clientY);
  }

  function onPointerUp(event) {
    if (state.press && event.pointerId !== state.press.pointerId) return;
    if (state.drag) finishDrag(false);
    endPress();
  }

  function onPointerCancel() {
    if (state.drag) finishDrag(true);
    endPress();
  }

  // While dragging by touch the page must not scroll under the finger.
  document.addEventListener(
    "touchmove",
    (event) => {
      if (state.drag) event.preventDefault();
    },
    { passive: false },
  );

  function beginDrag(x, y) {
    const card = state.press.card;
    const rect = card.getBoundingClientRect();
    const placeholder = document.createElement("div");
    placeholder.className = "card-placeholder";
    placeholder.style.height = `${rect.height}px`;
    const { prev, next } = neighbours(card);
    card.parentElement.insertBefore(placeholder, card);
    state.drag = {
      card,
      placeholder,
      originColumn: columnOf(card),
      originPrev: prev,
      originNext: next,
      dx: x - rect.left,
      dy: y - rect.top,
      x,
      y,
      frame: null,
    };
    card.classList.add("dragging");
    card.style.width = `${rect.width}px`;
    card.style.left = `${rect.left}px`;
    card.style.top = `${rect.top}px`;
    document.body.append(card);
    document.body.classList.add("is-dragging");
    state.drag.frame = requestAnimationFrame(autoScroll);
  }

  function dragTo(x, y) {
    const drag = state.drag;
    drag.x = x;
    drag.y = y;
    drag.card.style.left = `${x - drag.dx}px`;
    drag.card.style.top = `${y - drag.dy}px`;
    placePlaceholder();
  }

  function placePlaceholder() {
    const { x, y, placeholder, originColumn } = state.drag;
    const column = document.elementFromPoint(x, y)?.closest("[data-column]");
    if (!column || !board.contains(column)) return;
    const list = listOf(column);
    const before = cardsIn(list).find((card) => {
      const rect = card.getBoundingClientRect();
      return y < rect.top + rect.height / 2;
    });
    if (placeholder.parentElement !== list || placeholder.nextElementSibling !== (before || null)) {
      list.insertBefore(placeholder, before || null);
    }
    for (const other of columns()) other.classList.toggle("drop-target", other === column);
    placeholder.title = column !== originColumn && column.classList.contains("is-full") ? "This column is at its WIP limit" : "";
  }

  // Near an edge of the board (or of a column's list) the view scrolls by itself.
  function autoScroll() {
    const drag = state.drag;
    if (!drag) return;
    const edge = 48;
    const host = columnsHost();
    const hostRect = host.getBoundingClientRect();
    let moved = false;
    if (drag.x < hostRect.left + edge) {
      host.scrollLeft -= 14;
      moved = true;
    } else if (drag.x > hostRect.right - edge) {
      host.scrollLeft += 14;
      moved = true;
    }
    const list = drag.placeholder.parentElement;
    if (list) {
      const rect = list.getBoundingClientRect();
      if (drag.y < rect.top + edge && list.scrollTop > 0) {
        list.scrollTop -= 12;
        moved = true;
      } else if (drag.y > rect.bottom - edge && list.scrollTop + list.clientHeight < list.scrollHeight) {
        list.scrollTop += 12;
        moved = true;
      }
    }
    if (moved) placePlaceholder();
    drag.frame = requestAnimationFrame(autoScroll);
  }

  function finishDrag(cancelled) {
    const drag = state.drag;
    state.drag = null;
    cancelAnimationFrame(drag.frame);
    const { card, placeholder } = drag;
    document.body.classList.remove("is-dragging");
    for (const column of columns()) column.classList.remove("drop-target");
    card.classList.remove("dragging");
    card.style.removeProperty("width");
    card.style.removeProperty("left");
    card.style.removeProperty("top");
    state.justDragged = true;
    setTimeout(() => {
      state.justDragged = false;
    }, 0);
    if (cancelled || !placeholder.parentElement) {
      placeholder.remove();
      placeCard(card);
      runDeferred();
      return;
    }
    placeholder.replaceWith(card);
    const { prev, next } = neighbours(card);
    card.focus({ preventScroll: true });
    if (columnOf(card) === drag.originColumn && prev === drag.originPrev && next === drag.originNext) {
      runDeferred();
      return;
    }
    commitMove(card);
  }

  B.cancelDrag = () => {
    if (state.drag) finishDrag(true);
    endPress();
  };
})();
