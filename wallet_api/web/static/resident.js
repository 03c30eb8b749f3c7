/* The residents' app: log in or sign up, balance, pay by scanning a shop's QR or by
   showing a one-time code, send thanks, history, and a printable card with a PIN. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let me = null;
  let scanner = null;
  let pending = null; // the scanned payment awaiting confirmation: {uri, key}
  let codeTimer = null;
  let codeWatch = null; // follows the code on screen: the screen changes once a shop charged it
  let historyCursor = null;
  let asked = null; // the thanks question on screen: {code, amount, to} (送る sends exactly that)
  const named = new Map(); // member code → {short_code, display_name}, as looked up
  T.addTexts({
    ja: { your_balance: "あなたの残高", thanks_question: "{name}に {amount} を送りますか？", thanks_name: "{name}さん",
      thanks_code_only: "会員コード {code} の方", wrong_account: "このアプリは住民の方専用です。{where}",
      whose_named: "{name}さんのアカウント（会員コード {code}）", whose_code: "会員コード {code} のアカウント",
      thanks_caps: "ありがとうは1日 {count} 回・{points} まで（きょう {sent} 回・{sent_points} 送りました）。{reset} にリセットされます。",
      code_used: "コードが読み取られました。お店の処理を待っています…", code_expired: "このコードは期限切れです。新しいコードを表示してください。",
      code_paying: "{shop} に {amount} を支払っています…", code_paid: "{shop} に {amount} を支払いました",
      code_confirming: "{shop} の {amount} の請求があなたの承認を待っています（ホーム画面で承認できます）",
      code_failed: "{shop} の {amount} の請求は完了しませんでした", thanks_kind: "種類：{kind}" },
    en: { your_balance: "Your balance", thanks_question: "Send {amount} to {name}?", thanks_name: "{name}",
      thanks_code_only: "member {code}", wrong_account: "This app is for residents only. {where}",
      whose_named: "{name}'s account (member code {code})", whose_code: "Account of member code {code}",
      thanks_caps: "Thanks are limited to {count} a day and {points} a day (today: {sent} sent, {sent_points}). The limits reset at {reset}.",
      code_used: "Your code was scanned. Waiting for the shop…", code_expired: "This code has expired. Show a new one.",
      code_paying: "Paying {amount} to {shop}…", code_paid: "Paid {amount} to {shop}",
      code_confirming: "{shop}'s charge of {amount} waits for your approval (approve it on the home screen)",
      code_failed: "{shop}'s charge of {amount} did not go through", thanks_kind: "Kind: {kind}" },
  });
  const ELSEWHERE = {
    merchant: { ja: "お店の方はレジ（/till/）をお使いください。", en: "Shops: please use the till (/till/)." },
    business: { ja: "事業者の方はレジ（/till/）の事業者画面をお使いください。", en: "Businesses: please use the till (/till/)." },
    officer: { ja: "職員の方は窓口用の画面（/officer/）をお使いください。", en: "Officers: please use the officer desk (/officer/)." },
    coordinator: { ja: "コーディネーターの方は専用の画面（/coordinator/）をお使いください。", en: "Coordinators: please use /coordinator/." },
  };
  // what no further press can change: the shop must show a new QR
  const FINAL_REFUSALS = ["REQUEST_ALREADY_PAID", "PAYMENT_REQUEST_EXPIRED", "PAYMENT_REQUEST_CANCELLED", "INSUFFICIENT_BALANCE",
    "PAYMENT_IN_PROGRESS"];

  function stopAll() {
    if (scanner) scanner.stop();
    scanner = null;
    if (codeTimer) clearInterval(codeTimer);
    codeTimer = null;
    if (codeWatch) clearInterval(codeWatch);
    codeWatch = null;
  }

  const dateText = T.jstDate, timeText = T.jstTime; // common.js: unambiguous JST dates in both languages

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
    if (me.role !== "resident") return wrongAccount(me.role);
    $("logout").hidden = false;
    if (me.status !== "active") return go("pending");
    await home();
  }

  /** An officer (or a shop) logged in to the residents' app: say so, close that session, back to the log-in. */
  async function wrongAccount(role) {
    try { await T.call("POST", "/v1/auth/logout"); } catch (e) { /* the session ends anyway */ }
    T.tokens.clear();
    me = null;
    go("login");
    const where = (ELSEWHERE[role] || { ja: "", en: "" })[T.lang === "en" ? "en" : "ja"];
    const text = T.t("wrong_account").replace("{where}", where).trim();
    T.showError("login-error", new T.ApiFailure({ code: "WRONG_ACCOUNT_KIND", messages: { ja: text, en: text } }));
  }

  /** Whose account this is, at the top of the home screen: the chosen display name and the member code. */
  function showWhose() {
    let whose = $("home-whose");
    if (!whose) {
      whose = T.el("p", null, { id: "home-whose" });
      whose.style.fontWeight = "bold";
      $("home").prepend(whose);
    }
    whose.textContent = (me.display_name ? T.t("whose_named").replace("{name}", me.display_name) : T.t("whose_code"))
      .replace("{code}", me.short_code);
  }

  async function home() {
    go("home");
    showWhose();
    $("short-code").textContent = me.short_code;
    try {
      const b = await T.call("GET", "/v1/me/balance");
      $("balance").textContent = T.formatPoints(b.balance);
      $("expiring").textContent = T.formatPoints(b.expiring_soon);
      $("buckets").replaceChildren(...b.buckets.map((bucket) => {
        const li = document.createElement("li");
        li.textContent = `${T.t("expires")} ${dateText(bucket.expires_at)}: ${T.formatPoints(bucket.amount)}`;
        return li;
      }));
      $("member-qr").src = await T.imageUrl("/v1/me/member-qr.svg");
      await confirmations();
    } catch (e) {
      T.showError("history-error", e);
    }
  }

  // ---- charges above my card or code limit wait for me -----------------------------------------
  async function confirmations() {
    const waiting = await T.call("GET", "/v1/me/confirmations");
    $("confirmations").hidden = waiting.length === 0;
    $("confirmation-list").replaceChildren(...waiting.map((c) => {
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = `${c.merchant_name || ""} ${T.formatPoints(c.amount)}`;
      li.append(what);
      for (const [key, approve] of [["approve_charge", true], ["decline_charge", false]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = T.t(key);
        button.className = approve ? "primary" : "";
        button.addEventListener("click", async () => {
          try {
            await T.call("POST", `/v1/me/confirmations/${c.payment_request_id}`, { approve });
            await home();
          } catch (e) {
            T.showError("confirmation-error", e);
          }
        });
        li.append(button);
      }
      return li;
    }));
  }

  // ---- log in, sign up, log out ------------------------------------------------------------
  T.bindSession(start, () => go("login"));
  $("to-signup").addEventListener("click", () => go("signup"));
  $("to-login").addEventListener("click", () => go("login"));
  $("signup-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = {
      login: form.get("login"), password: form.get("password"), role: "resident",
      full_name: form.get("full_name"), postal_address: form.get("postal_address"),
      date_of_birth: form.get("date_of_birth"), display_name: form.get("display_name") || null,
    };
    try {
      await T.call("POST", "/v1/auth/signup", body);
      T.tokens.set(await T.call("POST", "/v1/auth/login", { login: body.login, password: body.password }));
      await start();
    } catch (e) {
      T.showError("signup-error", e);
    }
  });
  document.querySelectorAll("button.back").forEach((b) => b.addEventListener("click", () => home()));

  // ---- scan to pay -------------------------------------------------------------------------
  /* The preview refuses at once what cannot be paid (paid, being paid, expired, cancelled by the
     shop, more than the balance); its detail still names the shop, the amount and the balance,
     so the confirm screen shows what was asked and why it cannot be paid, without a 支払う. */
  function showConfirm(what, balance) {
    go("confirm");
    $("confirm-shop").textContent = what.merchant_name || what.merchant || "";
    $("confirm-amount").textContent = T.formatPoints(what.amount);
    $("confirm-balance-line").hidden = balance === null || balance === undefined;
    if (!$("confirm-balance-line").hidden) $("confirm-balance").textContent = T.formatPoints(balance);
    $("confirm-pay").hidden = false;
  }

  function refuse(e) {
    T.showError("confirm-error", e);
    if (e instanceof T.ApiFailure && FINAL_REFUSALS.includes(e.error.code)) {
      $("confirm-pay").hidden = true;
      pending = null;
    }
  }

  async function scanned(text) {
    if (T.onShopQr && T.onShopQr(text)) return; // a shop's printed QR: resident_shops.js asks for the amount
    try {
      const preview = await T.call("POST", "/v1/payments/preview", { uri: text.trim() });
      pending = { uri: text.trim(), key: crypto.randomUUID() };
      showConfirm(preview, preview.balance);
    } catch (e) {
      const detail = e instanceof T.ApiFailure ? e.error.detail || {} : {};
      if (Number.isInteger(detail.amount)) {
        showConfirm(detail, detail.balance);
        refuse(e);
        return;
      }
      go("scan");
      T.showError("scan-error", e);
    }
  }

  $("go-scan").addEventListener("click", async () => {
    go("scan");
    scanner = new T.Scanner($("scan-video"), scanned);
    try { await scanner.start(); } catch (e) { T.showError("scan-error", new T.ApiFailure({ code: "CAMERA", messages: { ja: "カメラを使えません。写真から読み取ってください。", en: "The camera is not available; read from a photo instead." } })); }
  });
  $("scan-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const text = await T.decodeImage(file);
    if (text) await scanned(text);
    else T.showError("scan-error", new T.ApiFailure({ code: "NO_QR", messages: { ja: "QRコードが見つかりません。", en: "No QR code found in the photo." } }));
  });
  $("confirm-pay").addEventListener("click", async () => {
    if (!pending) return;
    $("confirm-pay").disabled = true;
    try {
      const result = await T.move("/v1/payments", { uri: pending.uri }, pending.key);
      const request = result.payment_request || {};
      go("done");
      $("done-text").textContent = `${T.t("paid")} — ${request.merchant_name || ""}`;
      $("done-amount").textContent = T.formatPoints(request.amount || 0);
      pending = null;
    } catch (e) {
      refuse(e);
    } finally {
      $("confirm-pay").disabled = false;
    }
  });

  // ---- show to pay: a one-time code that rotates ------------------------------------------------
  /** The code's fate, asked every 2 s: once a shop charged it, the screen shows the charge instead of the code. */
  function showCodeState(state) {
    let line = $("code-state");
    if (!line) {
      line = T.el("p", null, { id: "code-state", class: "notice", role: "status" });
      $("code-qr").after(line);
    }
    const fill = (key) => T.t(key).replace("{shop}", state.merchant_name || "").replace("{amount}", T.formatPoints(state.amount || 0));
    const byStatus = { paid: "code_paid", paying: "code_paying", review: "code_paying", confirming: "code_confirming" };
    line.textContent = state.state === "used" ? T.t("code_used") : fill(byStatus[state.status] || "code_failed");
    line.dataset.state = state.state === "charged" ? state.status : state.state;
    line.hidden = false;
    $("code-qr").hidden = true; // a used code is never shown again
    $("code-seconds").parentElement.hidden = true;
  }

  function watchCode(code) {
    if (codeWatch) clearInterval(codeWatch);
    codeWatch = setInterval(async () => {
      try {
        const state = await T.call("POST", "/v1/me/payment-codes/state", { code });
        if (state.state === "waiting" || state.state === "expired") return; // the rotation shows the next code
        if (codeTimer) clearInterval(codeTimer);
        codeTimer = null;
        showCodeState(state);
        if (state.state === "charged" && state.status !== "paying" && state.status !== "confirming") {
          clearInterval(codeWatch);
          codeWatch = null;
        }
      } catch (e) { /* asked again in 2 s */ }
    }, 2000);
  }

  async function newCode() {
    if (codeTimer) clearInterval(codeTimer);
    if ($("code-state")) $("code-state").hidden = true;
    $("code-qr").hidden = false;
    $("code-seconds").parentElement.hidden = false;
    try {
      const limit = Number($("code-limit").value);
      const code = await T.call("POST", "/v1/me/payment-codes", Number.isInteger(limit) && limit > 0 ? { max_amount: limit } : {});
      $("code-qr").src = T.svgUrl(code.qr_svg);
      $("code-qr").dataset.code = code.code;
      watchCode(code.code);
      let left = code.expires_in;
      $("code-seconds").textContent = left;
      codeTimer = setInterval(() => {
        left -= 1;
        $("code-seconds").textContent = Math.max(left, 0);
        if (left <= 5) newCode(); // rotate before it expires
      }, 1000);
    } catch (e) {
      T.showError("show-error", e);
    }
  }
  $("go-show").addEventListener("click", () => { go("show"); newCode(); });
  $("new-code").addEventListener("click", () => newCode());

  // ---- thanks --------------------------------------------------------------------------------
  /** The daily caps, what I sent today and when they reset, as one sentence. */
  function capsText(c) {
    return T.t("thanks_caps").replace("{count}", c.per_day).replace("{points}", T.formatPoints(c.points_per_day))
      .replace("{sent}", c.sent_today).replace("{sent_points}", T.formatPoints(c.points_today))
      .replace("{reset}", timeText(Date.parse(c.resets_at) / 1000));
  }

  async function showCaps() {
    let line = $("thanks-caps");
    if (!line) {
      line = T.el("p", null, { id: "thanks-caps", class: "hint" });
      $("thanks-form").before(line);
    }
    try {
      line.textContent = capsText(await T.call("GET", "/v1/me/thanks/limits"));
      line.hidden = false;
    } catch (e) {
      line.hidden = true;
    }
  }

  $("go-thanks").addEventListener("click", () => { go("thanks"); ask(); showCaps(); });
  $("thanks-scan").addEventListener("click", async () => {
    const video = $("thanks-video");
    video.hidden = false;
    scanner = new T.Scanner(video, (text) => {
      video.hidden = true;
      $("thanks-to").value = text.replace(/^takasago-member:/, "");
      $("thanks-to").dispatchEvent(new Event("input"));
    });
    try { await scanner.start(); } catch (e) { video.hidden = true; }
  });
  /* Thanks asks "send 50 pt to 鈴木 一郎さん?" before sending: the name is the one the neighbour
     chose to be shown by (looked up by code; never their registered real name). 送る sends only
     what the question on screen says; a changed code or amount asks again. Spaces, hyphens and
     case in a typed code do not matter. */
  function memberCode(text) {
    const value = String(text).normalize("NFKC").trim().replace(/^takasago-member:/, "").trim();
    return /^0x[0-9a-fA-F]{40}$/.test(value) ? value : value.replace(/[\s-]/g, "").toUpperCase();
  }

  function thanksAmount() {
    const value = Number($("thanks-form").elements.amount.value);
    return Number.isInteger(value) && value > 0 ? value : null;
  }

  /** The question for the code and amount now in the form, when the code is known; else none. */
  function ask() {
    const code = memberCode($("thanks-to").value);
    const amount = thanksAmount();
    const to = named.get(code);
    asked = to && amount ? { code, amount, to } : null;
    $("thanks-question").hidden = !asked;
    if (!asked) return;
    const name = to.display_name ? T.t("thanks_name").replace("{name}", to.display_name)
      : T.t("thanks_code_only").replace("{code}", to.short_code);
    $("thanks-question").textContent = T.t("thanks_question").replace("{name}", name).replace("{amount}", T.formatPoints(amount));
  }

  async function lookUp(code) {
    if (!code || named.has(code) || /^0x/.test(code)) return named.get(code) || null;
    const found = await T.call("GET", `/v1/members/${encodeURIComponent(code)}`);
    named.set(code, found);
    return found;
  }

  let lookupTimer = null;
  $("thanks-to").addEventListener("input", () => {
    ask();
    clearTimeout(lookupTimer);
    lookupTimer = setTimeout(() => { lookUp(memberCode($("thanks-to").value)).then(ask, () => {}); }, 300);
  });
  $("thanks-form").elements.amount.addEventListener("input", () => ask());

  $("thanks-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const amount = Number(form.get("amount"));
    const code = memberCode(form.get("to"));
    try {
      if (!asked || asked.code !== code || asked.amount !== amount) {
        // not asked yet for this code and amount: find whom the code names, refuse what cannot be sent, ask
        await lookUp(code);
        const balance = await T.call("GET", "/v1/me/balance");
        ask();
        if (balance.balance < amount) {
          throw new T.ApiFailure({ code: "INSUFFICIENT_BALANCE", messages: { ja: "ポイントが足りません。", en: "Not enough points." } }, 409);
        }
        if (asked) return; // the question is on screen: 送る again sends
      }
      await T.move("/v1/thanks", {
        to: code, amount, category: form.get("category"), message: form.get("message") || "",
      });
      event.target.reset();
      asked = null;
      $("thanks-question").hidden = true;
      go("done");
      $("done-text").textContent = T.t("thanks_sent");
      $("done-amount").textContent = T.formatPoints(amount);
    } catch (e) {
      T.showError("thanks-error", e);
      const detail = e instanceof T.ApiFailure ? e.error.detail || {} : {};
      if (e instanceof T.ApiFailure && e.error.code === "THANKS_DAILY_CAP" && detail.resets_at) {
        $("thanks-error").textContent += ` ${capsText(detail)}`; // the limit and when it resets
      }
      showCaps();
    }
  });

  // ---- history -------------------------------------------------------------------------------
  /* A page may come back short, even empty, when the wallet scanned a long quiet stretch of the
     ledger: keep following next_cursor (a few times) before showing it. */
  async function loadHistory(more) {
    try {
      let cursor = more ? historyCursor : null;
      let page = { items: [], next_cursor: null };
      for (let tries = 0; tries < 5; tries += 1) {
        const next = await T.call("GET", "/v1/me/history?limit=20" + (cursor ? `&before=${encodeURIComponent(cursor)}` : ""));
        page = { items: page.items.concat(next.items), next_cursor: next.next_cursor };
        cursor = next.next_cursor;
        if (page.items.length || !cursor) break;
      }
      const items = page.items.map((item) => {
        const li = document.createElement("li");
        li.className = item.direction;
        const what = document.createElement("span");
        what.textContent = T.lang === "en" ? item.text : item.text_ja;
        const amount = document.createElement("strong");
        amount.textContent = (item.direction === "out" ? "−" : "+") + T.formatPoints(item.amount);
        const when = document.createElement("small");
        when.textContent = timeText(item.timestamp); // date and time, JST
        li.append(what, amount, when);
        if (item.category && (item.kind === "thanks_received" || item.kind === "thanks_sent")) {
          const kind = T.t(`cat_${item.category}`);
          li.append(T.el("small", T.t("thanks_kind").replace("{kind}", kind.startsWith("cat_") ? item.category : kind), { class: "kind" }));
        }
        if (item.message) {
          const note = document.createElement("q");
          note.textContent = item.message; // kept off-chain; only its salted hash is on the ledger
          li.append(note);
        }
        return li;
      });
      if (more) $("history-list").append(...items); else $("history-list").replaceChildren(...items);
      historyCursor = page.next_cursor;
      $("history-more").hidden = !historyCursor;
      $("history-empty").hidden = $("history-list").children.length > 0;
    } catch (e) {
      T.showError("history-error", e);
    }
  }
  $("go-history").addEventListener("click", () => { go("history"); loadHistory(false); });
  $("history-more").addEventListener("click", () => loadHistory(true));

  // ---- printable card ------------------------------------------------------------------------
  async function cardSettings() {
    try {
      const card = await T.call("GET", "/v1/me/card");
      $("card-limit-form").hidden = !card.has_card;
      $("card-limit").value = card.max_amount || "";
    } catch (e) {
      T.showError("card-error", e);
    }
  }
  $("go-card").addEventListener("click", () => { go("card"); $("printable-card").hidden = true; cardSettings(); });
  $("card-limit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const limit = Number($("card-limit").value);
    try {
      await T.call("PUT", "/v1/me/card/limit", { max_amount: Number.isInteger(limit) && limit > 0 ? limit : null });
      $("card-limit-saved").textContent = T.t("limit_saved");
      $("card-limit-saved").hidden = false;
    } catch (e) {
      T.showError("card-error", e);
    }
  });
  $("card-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      const limit = Number(form.get("max_amount"));
      const card = await T.call("POST", "/v1/me/card", { pin: form.get("pin"), max_amount: Number.isInteger(limit) && limit > 0 ? limit : null });
      event.target.reset();
      await cardSettings();
      $("card-qr").src = T.svgUrl(card.qr_svg);
      $("card-qr").dataset.card = card.card;
      $("card-code").textContent = me.short_code;
      $("printable-card").hidden = false;
    } catch (e) {
      T.showError("card-error", e);
    }
  });
  $("print-card").addEventListener("click", () => window.print());
  document.addEventListener("takasago:language", () => {
    if (!$("home").hidden) home();
    if (!$("thanks").hidden) showCaps();
    if (!$("history").hidden) loadHistory(false); // its words and dates in the new language
  });

  start();
})();
