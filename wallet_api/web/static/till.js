/* The merchants' till: an amount becomes a payment-request QR that turns green when paid;
   or the till scans a customer's one-time code or printed card (+ PIN) and charges it;
   refunds, the day's takings and settlement. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let me = null;
  let scanner = null;
  let listening = null; // AbortController of the payment request's event stream
  let charge = null; // {amount, card, key, balanceOnly}
  let shown = null; // the id of the payment request whose QR is on screen (cancelled when the clerk leaves it)
  T.addTexts({
    ja: { till_check_balance: "カードの残高照会", till_card_balance: "カードの残高", till_nothing_paid: "お支払いはしていません。",
      till_expires: "有効期限", till_card_only: "残高照会はカードで行います。カードのQRを読み取ってください。",
      till_cancelled: "この請求は取り消されました", till_paying_now: "お客様がお支払い中です。完了までお待ちください。",
      till_pin_left: "あと{n}回まで試せます（すべて違うとカードは一時的にロックされます）。",
      till_wrong_account: "このレジはお店のアカウント専用です。{where}",
      till_method_qr: "QR", till_method_static: "お店のQR", till_method_charge: "カード・コード", till_request_id: "番号",
      till_refund_question: "{amount} を返金しますか？", till_refund_yes: "返金する", till_refund_no: "やめる",
      till_refund_max: "最大 {amount}", till_refund_done: "{amount} を返金しました。" },
    en: { till_check_balance: "Card balance", till_card_balance: "Balance on the card", till_nothing_paid: "Nothing has been paid.",
      till_expires: "expires", till_card_only: "The balance check needs the card: scan the card's QR.",
      till_cancelled: "This request was cancelled", till_paying_now: "The customer is paying now; please wait for it to finish.",
      till_pin_left: "{n} more tries left; then the card is locked for a while.",
      till_wrong_account: "This till is for shop accounts only. {where}",
      till_method_qr: "QR", till_method_static: "shop QR", till_method_charge: "card/code", till_request_id: "no.",
      till_refund_question: "Refund {amount}?", till_refund_yes: "Refund", till_refund_no: "Don't refund",
      till_refund_max: "up to {amount}", till_refund_done: "Refunded {amount}." },
  });
  // where each other kind of account belongs (a resident who logged in at the till, an officer…)
  const ELSEWHERE = {
    resident: { ja: "住民の方はアプリ（/app/）をお使いください。", en: "Residents: please use the app (/app/)." },
    officer: { ja: "職員の方は窓口用の画面（/officer/）をお使いください。", en: "Officers: please use the officer desk (/officer/)." },
    coordinator: { ja: "コーディネーターの方は専用の画面（/coordinator/）をお使いください。", en: "Coordinators: please use /coordinator/." },
  };

  function stopAll() {
    if (scanner) scanner.stop();
    scanner = null;
    if (listening) listening.abort();
    listening = null;
    if (T.tillShops) T.tillShops.stop();
  }

  function go(id) {
    stopAll();
    T.show(id);
  }

  async function start() {
    T.bindSettings();
    T.registerServiceWorker();
    if (!T.tokens.access) return go("login");
    try {
      me = await T.call("GET", "/v1/me");
    } catch (e) {
      return go("login");
    }
    if (me.role === "business" && T.tillBusiness) { // a business (法人, not a shop): only its own screens
      $("logout").hidden = false;
      return T.tillBusiness.openAccount();
    }
    if (me.role !== "merchant") return wrongAccount(me.role);
    $("logout").hidden = false;
    // a shop still waiting for the city: its application (the till's payments open once it is verified)
    if (me.status !== "active" && T.tillShops) return T.tillShops.open();
    entry();
  }

  /** A resident (or an officer) logged in at the till: say so, close that session, back to the log-in. */
  async function wrongAccount(role) {
    try { await T.call("POST", "/v1/auth/logout"); } catch (e) { /* the session ends anyway */ }
    T.tokens.clear();
    me = null;
    go("login");
    const where = (ELSEWHERE[role] || { ja: "", en: "" })[T.lang === "en" ? "en" : "ja"];
    const text = T.t("till_wrong_account").replace("{where}", where).trim();
    T.showError("login-error", new T.ApiFailure({ code: "WRONG_ACCOUNT_KIND", messages: { ja: text, en: text } }));
  }

  function entry() {
    if (me && me.role === "business") return T.tillBusiness.openAccount(); // no customer screens for a business
    go("entry");
    $("shop-name").textContent = me.display_name || me.short_code;
    $("amount").focus();
  }

  function amount() {
    const value = Number($("amount").value);
    return Number.isInteger(value) && value > 0 ? value : null;
  }

  T.bindSession(start, () => go("login"));
  document.querySelectorAll("button.back").forEach((b) => {
    if (b.id !== "request-back") b.addEventListener("click", () => entry());
  });

  // ---- the shop shows a QR (MPM) ------------------------------------------------------------
  function paid(points) {
    shown = null;
    go("paid");
    $("paid-amount").textContent = T.formatPoints(points);
  }

  $("amount-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const points = amount();
    if (!points) return;
    try {
      const request = await T.call("POST", "/v1/payment-requests", { amount: points });
      go("request");
      shown = request.id;
      $("request-qr").removeAttribute("src"); // never the previous (cancelled) QR, even for a moment
      delete $("request-qr").dataset.uri;
      $("request-amount").textContent = T.formatPoints(points);
      $("request-status").textContent = T.t("waiting");
      $("request-qr").src = await T.imageUrl(`/v1/payment-requests/${request.id}/qr.svg`);
      $("request-qr").dataset.uri = request.uri;
      listening = new AbortController();
      const signal = listening.signal;
      T.events(`/v1/payment-requests/${request.id}/events`, (update) => {
        if (update.status === "paid") paid(update.amount);
        else if (update.status === "expired") $("request-status").textContent = T.t("expired");
        else if (update.status === "cancelled") $("request-status").textContent = T.t("till_cancelled");
        else if (update.status === "review") review("request-status");
      }, signal).catch((e) => { if (!signal.aborted) T.showError("request-error", e); });
    } catch (e) {
      T.showError("entry-error", e);
    }
  });

  /* 戻る on the QR: the request is cancelled first, so a QR left on a screen (or photographed) can no
     longer be paid. The customer may have been quicker: then the till shows "paid", or, while their
     payment is on its way, says so and keeps waiting. Without the network the till goes back anyway
     (the request runs out by itself in a few minutes). */
  async function leaveRequest() {
    const id = shown;
    if (!id) return entry();
    try {
      await T.call("POST", `/v1/payment-requests/${id}/cancel`);
    } catch (e) {
      const status = e instanceof T.ApiFailure && e.error.code === "REQUEST_NOT_CANCELLABLE" ? (e.error.detail || {}).status : null;
      if (status === "paid") {
        const request = await T.call("GET", `/v1/payment-requests/${id}`).catch(() => null);
        return paid(request ? request.amount : 0);
      }
      if (status === "paying" || status === "confirming") {
        T.showError("request-error", new T.ApiFailure({ code: "PAYMENT_IN_PROGRESS", messages: { ja: T.t("till_paying_now"), en: T.t("till_paying_now") } }));
        return;
      }
      if (status === "review") return review("request-status");
    }
    shown = null;
    entry();
  }
  $("request-back").addEventListener("click", () => leaveRequest());
  // the till's tab closed or reloaded with a QR on screen: cancel it on the way out
  window.addEventListener("pagehide", () => {
    if (!shown || !T.tokens.access) return;
    fetch(`/v1/payment-requests/${shown}/cancel`, {
      method: "POST", keepalive: true, headers: { Authorization: `Bearer ${T.tokens.access}` },
    }).catch(() => {});
  });

  /** The ledger records another payer or amount for this request: never "paid"; the clerk checks. */
  function review(statusId) {
    const el = $(statusId);
    el.textContent = T.t("review_till");
    el.dataset.status = "review";
    el.classList.add("error");
  }

  // ---- the shop scans the customer's code or card (CPM) ------------------------------------------
  /* A charge keeps its idempotency key until it has a definite outcome: a retry after a timeout
     or a network error is the same charge (the server never charges twice). The till follows
     the charge's payment request, which it can always read, until it is final. */
  const FINAL_REFUSALS = ["declined", "cancelled", "expired"];

  async function follow(requestId, statusId) {
    const current = await T.call("GET", `/v1/payment-requests/${requestId}`);
    if (current.status === "paid") return current;
    listening = new AbortController();
    const signal = listening.signal;
    return new Promise((resolve, reject) => {
      T.events(`/v1/payment-requests/${requestId}/events`, (update) => {
        if (update.status === "confirming") $(statusId).textContent = T.t("awaiting_customer");
        if (update.status === "paid" || update.status === "review" || FINAL_REFUSALS.includes(update.status)) {
          resolve(update);
        }
      }, signal).then(() => reject(new Error("stream ended")), reject);
    });
  }

  async function submitCharge(body, statusId, errorId) {
    $(statusId).textContent = T.t("charge_pending");
    $(statusId).hidden = false;
    let result;
    try {
      result = await T.call("POST", "/v1/merchant/charges", body, charge.key);
    } catch (e) {
      // a refusal before anything was accepted (wrong PIN, used code…): a new attempt is a new charge;
      // a timeout, a network error or a server error keeps the key, so pressing again is safe
      if (e instanceof T.ApiFailure && e.status >= 400 && e.status < 500 && e.error.code !== "IDEMPOTENCY_KEY_REUSED") {
        charge.key = crypto.randomUUID();
      }
      throw e;
    }
    if (result.operation.status === "failed") {
      charge.key = crypto.randomUUID();
      throw new T.ApiFailure(result.operation.error || { code: "TRANSACTION_REJECTED" }, 409);
    }
    const outcome = result.operation.status === "confirmed" ? result.payment_request
      : await follow(result.payment_request.id, statusId);
    if (outcome.status === "paid") {
      charge = null;
      paid(outcome.amount);
    } else if (outcome.status === "review") {
      charge = null;
      review(errorId);
      $(errorId).hidden = false;
    } else {
      charge.key = crypto.randomUUID();
      const op = await T.call("GET", `/v1/operations/${result.operation.id}`);
      throw new T.ApiFailure(op.error || { code: "CHARGE_FAILED", messages: { ja: T.t("charge_failed"), en: T.t("charge_failed") } }, 409);
    }
  }

  async function scanned(text) {
    const points = charge.amount;
    text = text.trim();
    if (text.startsWith("takasago-card:")) {
      charge.card = text;
      go("pin");
      $("pin-amount").textContent = charge.balanceOnly ? T.t("till_check_balance") : T.formatPoints(points);
      $("pin-input").focus();
      return;
    }
    if (charge.balanceOnly) {
      go("scan");
      T.showError("scan-error", new T.ApiFailure({ code: "CARD_UNKNOWN", messages: { ja: T.t("till_card_only"), en: T.t("till_card_only") } }));
      startScanner();
      return;
    }
    try {
      await submitCharge({ amount: points, code: text }, "scan-status", "scan-error");
    } catch (e) {
      go("scan");
      $("scan-amount").textContent = T.formatPoints(points);
      T.showError("scan-error", e);
      startScanner();
    }
  }

  async function startScanner() {
    scanner = new T.Scanner($("scan-video"), scanned);
    try {
      await scanner.start();
    } catch (e) {
      /* the API's refusal ("code used or expired"…) stays on screen: the camera's trouble goes beside it */
      const camera = { ja: "カメラを使えません。写真から読み取ってください。", en: "The camera is not available; read from a photo instead." };
      if ($("scan-error").hidden) T.showError("scan-error", new T.ApiFailure({ code: "CAMERA", messages: camera }));
      else { $("scan-status").textContent = camera[T.lang === "en" ? "en" : "ja"]; $("scan-status").hidden = false; }
    }
  }

  $("scan-customer").addEventListener("click", async () => {
    const points = amount();
    if (!points) { $("amount").reportValidity(); return; }
    charge = { amount: points, key: crypto.randomUUID() };
    go("scan");
    $("scan-amount").textContent = T.formatPoints(points);
    await startScanner();
  });
  $("scan-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const text = await T.decodeImage(file);
    if (text) { stopAll(); await scanned(text); }
  });
  $("pin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const pin = $("pin-input").value;
    $("pin-input").value = "";
    try {
      if (charge.balanceOnly) {
        const seen = await T.call("POST", "/v1/merchant/card-balance", { card: charge.card, pin });
        go("card-balance");
        $("card-balance-amount").textContent = T.formatPoints(seen.balance);
        $("card-balance-buckets").replaceChildren(...seen.buckets.map((b) =>
          T.el("li", `${T.t("till_expires")} ${T.formatDate(b.expires_at)}: ${T.formatPoints(b.amount)}`)));
        return;
      }
      await submitCharge({ amount: charge.amount, card: charge.card, pin }, "pin-status", "pin-error");
    } catch (e) {
      T.showError("pin-error", e);
      const left = e instanceof T.ApiFailure && e.error.code === "PIN_INCORRECT" ? (e.error.detail || {}).attempts_left : null;
      if (Number.isInteger(left)) $("pin-error").textContent += " " + T.t("till_pin_left").replace("{n}", left);
    }
  });
  // a card holder asks what is left on the card: scan it, they type the PIN, nothing is paid
  $("check-balance").addEventListener("click", async () => {
    charge = { amount: 0, balanceOnly: true };
    go("scan");
    $("scan-amount").textContent = T.t("till_check_balance");
    await startScanner();
  });

  // ---- takings, refunds, settlement -------------------------------------------------------------
  /* Each sale with its time, how it was paid and its request number, so the right one is refunded.
     The refund's amount is typed (nothing pre-filled: a part refund is the common case) and asked
     again before anything is sent. */
  function takingRow(r) {
    const li = document.createElement("li");
    li.dataset.request = r.id;
    const when = T.jstTime(r.paid_at); // the date too: a refund may be for an earlier day's sale
    li.append(T.el("span", `${when} ${T.formatPoints(r.amount)} · ${T.t("till_method_" + (r.method || "qr"))} · ${T.t("till_request_id")} ${r.id.slice(0, 8)}`));
    if (r.refunded) li.append(T.el("small", ` ${T.t("refunded")} ${T.formatPoints(r.refunded)}`));
    const left = r.amount - r.refunded;
    if (left <= 0) return li;
    const form = document.createElement("form");
    form.className = "refund";
    const input = T.el("input", null, { type: "number", min: "1", max: String(left), step: "1", required: "",
      inputmode: "numeric", placeholder: T.t("till_refund_max").replace("{amount}", T.formatPoints(left)),
      "aria-label": T.t("refund_amount") });
    const button = T.el("button", T.t("refund"), { type: "submit" });
    const ask = T.el("p", null, { class: "confirm-refund", hidden: "" });
    form.append(input, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const points = Number(input.value);
      if (!Number.isInteger(points) || points < 1 || points > left) { input.reportValidity(); return; }
      ask.replaceChildren(T.el("span", T.t("till_refund_question").replace("{amount}", T.formatPoints(points)) + " "));
      const yes = T.el("button", T.t("till_refund_yes"), { type: "button", class: "primary refund-yes" });
      const no = T.el("button", T.t("till_refund_no"), { type: "button", class: "refund-no" });
      no.addEventListener("click", () => { ask.hidden = true; input.value = ""; });
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try {
          await T.move("/v1/merchant/refunds", { payment_request_id: r.id, amount: points });
          await takings();
          $("settle-done").textContent = T.t("till_refund_done").replace("{amount}", T.formatPoints(points));
          $("settle-done").hidden = false;
        } catch (e) {
          ask.hidden = true;
          T.showError("takings-error", e);
        }
      });
      ask.append(yes, no);
      ask.hidden = false;
    });
    li.append(form, ask);
    return li;
  }

  async function takings() {
    go("takings");
    try {
      const day = await T.call("GET", "/v1/merchant/takings");
      const balance = await T.call("GET", "/v1/me/balance");
      $("takings-total").textContent = T.formatPoints(day.total - day.refunded);
      $("takings-count").textContent = day.payments;
      $("merchant-balance").textContent = T.formatPoints(balance.merchant ? balance.merchant.balance : balance.balance);
      $("takings-list").replaceChildren(...day.requests.map((r) => takingRow(r)));
    } catch (e) {
      T.showError("takings-error", e);
    }
  }
  $("go-takings").addEventListener("click", () => takings());
  document.addEventListener("takasago:language", () => { if (!$("takings").hidden) takings(); }); // times in the chosen language
  $("settle-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const points = Number(new FormData(event.target).get("amount"));
    try {
      await T.move("/v1/merchant/settlements", { amount: points });
      await takings();
      $("settle-done").textContent = `${T.t("settled")}: ${T.formatPoints(points)}`;
      $("settle-done").hidden = false;
    } catch (e) {
      T.showError("takings-error", e);
    }
  });

  start();
})();
