/* Shared by the residents' app and the merchants' till: the API client, Japanese/English
   texts, display settings, QR scanning (camera or image) and error display. No framework,
   nothing fetched from elsewhere. */
"use strict";

const TAKASAGO = (() => {
  const APP = document.body.dataset.app; // "app" or "till"
  const store = window.localStorage;

  // ---- texts ------------------------------------------------------------------------
  const TEXTS = {
    ja: {
      title_app: "たかさごポイント", title_till: "たかさごポイント お店レジ",
      login: "ログイン", logout: "ログアウト", login_id: "ログインID", password: "パスワード",
      signup: "新規登録", signup_intro: "本人確認のため、氏名・住所・生年月日を登録します。市の確認後に使えるようになります。",
      full_name: "氏名", postal_address: "住所", date_of_birth: "生年月日", nickname: "ニックネーム（任意）",
      shop_name: "店舗名", send_signup: "登録する", have_account: "アカウントをお持ちの方",
      pending: "登録を受け付けました。市の確認をお待ちください（確認後にポイントを使えます）。",
      balance: "ポイント残高", points: "pt", expiring_soon: "60日以内に期限切れ", expires: "有効期限",
      scan_to_pay: "読み取って支払う", show_to_pay: "コードを見せて支払う", send_thanks: "ありがとうを送る",
      history: "履歴", card: "カードと暗証番号", my_code: "わたしのコード（ありがとう受け取り用）",
      camera_hint: "お店のQRコードをカメラに向けてください", upload: "写真から読み取る", cancel: "戻る",
      confirm_pay: "支払い内容の確認", pay: "支払う", paid: "支払いが完了しました", done: "完了",
      show_hint: "お店の人にこのコードを読み取ってもらってください", valid_for: "有効",
      seconds: "秒", new_code: "新しいコード",
      thanks_to: "送り先（相手のコード）", scan_neighbour: "相手のQRを読み取る", amount: "ポイント数",
      category: "種類", message: "メッセージ（任意）", send: "送る", thanks_sent: "ありがとうを送りました",
      cat_thanks: "ありがとう", cat_help: "お手伝い", cat_community: "地域活動", cat_care: "見守り・介護",
      cat_environment: "環境", cat_other: "その他",
      more: "もっと見る", no_history: "まだ履歴はありません",
      card_intro: "スマートフォンがなくても、印刷したカードと6桁の暗証番号でお店で支払えます。",
      pin: "暗証番号", issue_card: "カードを発行", print: "印刷する", card_note: "カードと暗証番号は別々に保管してください。",
      language: "English", large: "大きな文字", contrast: "高コントラスト",
      till_amount: "金額（ポイント）", show_qr: "QRを表示", scan_customer: "お客様のコードを読む",
      waiting: "お支払いを待っています…", paid_till: "支払い完了", next_customer: "次のお客様",
      review_till: "要確認：この請求には別の支払い（別の方または別の金額）が台帳に記録されています。商品を渡す前に確認してください。",
      awaiting_customer: "お客様がアプリで承認するのを待っています…", charge_failed: "この請求は完了しませんでした。",
      charge_pending: "請求の結果を確認しています…（もう一度押しても二重には請求されません）",
      confirm_charges: "承認待ちの請求", approve_charge: "支払う", decline_charge: "断る",
      limit_optional: "1回の上限（任意・ポイント）", save_limit: "上限を保存", limit_saved: "上限を保存しました",
      no_limit: "上限なし",
      expired: "期限切れになりました", scan_customer_hint: "お客様の支払いコードかカードをカメラに向けてください",
      enter_pin: "お客様に暗証番号を入力してもらってください", charge: "請求する", charged: "支払いを受け付けました",
      takings: "本日の売上", total: "合計", refund: "返金", refund_amount: "返金額", refunded: "返金済み",
      settlement: "換金申請", settle: "換金を申請", settled: "換金を申請しました", payments_n: "件",
      merchant_balance: "換金できる残高", working: "処理中…",
      title_officer: "たかさごポイント 市職員", pending_accounts: "本人確認待ちのアカウント",
      verify_hint: "本人確認書類と照合してから承認してください。承認すると台帳に登録されます（個人情報は台帳に載りません）。",
      pending_claims: "審査待ちの申請", none_pending: "ありません", approve: "承認", reject: "却下", refresh: "更新",
      record_reads: "個人情報の閲覧記録", reads_hint: "誰が、いつ、誰の個人情報を、何のために開いたかの記録です（最新順）。",
      command_line: "コマンドライン", read_reason: "本人確認（市職員デスク）",
      resident: "住民", merchant: "加盟店",
    },
    en: {
      title_app: "Takasago Points", title_till: "Takasago Points Till",
      login: "Log in", logout: "Log out", login_id: "Login ID", password: "Password",
      signup: "Sign up", signup_intro: "To confirm who you are, register your name, address and date of birth. You can use points once the city has checked them.",
      full_name: "Full name", postal_address: "Address", date_of_birth: "Date of birth", nickname: "Nickname (optional)",
      shop_name: "Shop name", send_signup: "Sign up", have_account: "I already have an account",
      pending: "Thank you. Please wait for the city to confirm your account (then you can use points).",
      balance: "Points", points: "pt", expiring_soon: "Expiring within 60 days", expires: "Expires",
      scan_to_pay: "Scan to pay", show_to_pay: "Show a code to pay", send_thanks: "Send thanks",
      history: "History", card: "Card and PIN", my_code: "My code (for receiving thanks)",
      camera_hint: "Point the camera at the shop's QR code", upload: "Read from a photo", cancel: "Back",
      confirm_pay: "Confirm payment", pay: "Pay", paid: "Payment complete", done: "Done",
      show_hint: "Let the shop scan this code", valid_for: "Valid for",
      seconds: "s", new_code: "New code",
      thanks_to: "To (their code)", scan_neighbour: "Scan their QR", amount: "Points",
      category: "Kind", message: "Message (optional)", send: "Send", thanks_sent: "Thanks sent",
      cat_thanks: "Thanks", cat_help: "Help", cat_community: "Community", cat_care: "Care",
      cat_environment: "Environment", cat_other: "Other",
      more: "More", no_history: "No history yet",
      card_intro: "Without a smartphone you can pay at shops with a printed card and a 6-digit PIN.",
      pin: "PIN", issue_card: "Issue card", print: "Print", card_note: "Keep the card and the PIN apart.",
      language: "日本語", large: "Large text", contrast: "High contrast",
      till_amount: "Amount (points)", show_qr: "Show QR", scan_customer: "Scan customer's code",
      waiting: "Waiting for payment…", paid_till: "Paid", next_customer: "Next customer",
      review_till: "Check needed: the ledger records a different payment for this request (another payer or amount). Check before handing over goods.",
      awaiting_customer: "Waiting for the customer to approve in their app…", charge_failed: "This charge did not go through.",
      charge_pending: "Checking the charge… (pressing again never charges twice)",
      confirm_charges: "Charges waiting for your approval", approve_charge: "Pay", decline_charge: "Decline",
      limit_optional: "Limit per payment (optional, points)", save_limit: "Save limit", limit_saved: "Limit saved",
      no_limit: "No limit",
      expired: "This request has expired", scan_customer_hint: "Hold the customer's payment code or card to the camera",
      enter_pin: "Ask the customer to type their PIN", charge: "Charge", charged: "Payment received",
      takings: "Today's takings", total: "Total", refund: "Refund", refund_amount: "Refund amount", refunded: "Refunded",
      settlement: "Settlement", settle: "Request settlement", settled: "Settlement requested", payments_n: "payments",
      merchant_balance: "Balance to settle", working: "Working…",
      title_officer: "Takasago Points Officer", pending_accounts: "Accounts waiting for verification",
      verify_hint: "Check against an ID document before approving. Approval registers the account on the ledger (no personal data goes on it).",
      pending_claims: "Claims waiting for a decision", none_pending: "None", approve: "Approve", reject: "Reject", refresh: "Refresh",
      record_reads: "Personal-record reads", reads_hint: "Who opened whose personal record, when and why (newest first).",
      command_line: "command line", read_reason: "identity check at the officer desk",
      resident: "Resident", merchant: "Merchant",
    },
  };
  let lang = store.getItem("lang") === "en" ? "en" : "ja";

  /** More texts (a feature's own script adds its words in both languages). */
  function addTexts(more) {
    for (const l of ["ja", "en"]) Object.assign(TEXTS[l], more[l] || {});
    if (settingsBound) translate();
  }

  function t(key) {
    return (TEXTS[lang] && TEXTS[lang][key]) || TEXTS.ja[key] || key;
  }

  function translate(root = document) {
    root.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    root.querySelectorAll("[data-t-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.tPlaceholder); });
    document.documentElement.lang = lang;
    document.title = t({ till: "title_till", officer: "title_officer", coordinator: "title_coordinator" }[APP] || "title_app");
  }

  function applySettings() {
    document.body.classList.toggle("large", store.getItem("large") === "1");
    document.body.classList.toggle("contrast", store.getItem("contrast") === "1");
    translate();
  }

  let settingsBound = false;

  function bindSettings() {
    if (settingsBound) return applySettings();
    settingsBound = true;
    document.getElementById("lang-toggle").addEventListener("click", () => {
      lang = lang === "ja" ? "en" : "ja";
      store.setItem("lang", lang);
      applySettings();
      document.dispatchEvent(new Event("takasago:language"));
    });
    for (const name of ["large", "contrast"]) {
      document.getElementById(`${name}-toggle`).addEventListener("click", () => {
        store.setItem(name, store.getItem(name) === "1" ? "0" : "1");
        applySettings();
      });
    }
    applySettings();
  }

  // ---- screens ------------------------------------------------------------------------
  function show(id) {
    document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== id; });
    document.querySelectorAll(".error").forEach((e) => { e.hidden = true; });
    window.scrollTo(0, 0);
  }

  class ApiFailure extends Error {
    constructor(error, status) {
      super(error.code);
      this.error = error;
      this.status = status;
    }
    get text() {
      const messages = this.error.messages || {};
      return messages[lang] || this.error.message || this.error.code;
    }
  }

  function showError(target, failure) {
    const el = typeof target === "string" ? document.getElementById(target) : target;
    el.textContent = failure instanceof ApiFailure ? failure.text : (lang === "en" ? "Cannot reach the service." : "サービスに接続できません。");
    // a reason a person gave (an officer's decision on a sign-up) is shown as written
    const reason = failure instanceof ApiFailure && failure.error.detail && failure.error.detail.reason;
    if (reason) el.textContent += (lang === "en" ? " Reason: " : " 理由：") + reason;
    el.dataset.code = failure instanceof ApiFailure ? failure.error.code : "NETWORK";
    el.hidden = false;
  }

  // ---- the API --------------------------------------------------------------------------
  const tokens = {
    get access() { return store.getItem(`${APP}.access`); },
    get refresh() { return store.getItem(`${APP}.refresh`); },
    set(body) {
      store.setItem(`${APP}.access`, body.access_token);
      store.setItem(`${APP}.refresh`, body.refresh_token);
    },
    clear() {
      store.removeItem(`${APP}.access`);
      store.removeItem(`${APP}.refresh`);
    },
  };

  const SESSION_ENDED = ["UNAUTHENTICATED", "TOKEN_EXPIRED", "TOKEN_INVALID", "TOKEN_REUSED", "ACCOUNT_NOT_ACTIVE"];

  async function errorCode(response) {
    try { return ((await response.clone().json()).error || {}).code; } catch (e) { return null; }
  }

  async function refresh() {
    if (!tokens.refresh) return false;
    const response = await fetch("/v1/auth/refresh", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refresh }),
    });
    if (!response.ok) { tokens.clear(); return false; }
    tokens.set(await response.json());
    return true;
  }

  async function raw(method, path, body, key, retried = false) {
    const headers = { "Accept-Language": lang };
    if (tokens.access) headers.Authorization = `Bearer ${tokens.access}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401 && !retried && (await errorCode(response)) === "TOKEN_EXPIRED" && (await refresh())) {
      return raw(method, path, body, key, true);
    }
    return response;
  }

  async function call(method, path, body, key) {
    const response = await raw(method, path, body, key);
    if (response.status === 204) return null;
    let data;
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      if (tokens.access && SESSION_ENDED.includes((data.error || {}).code)) document.dispatchEvent(new Event("takasago:logged-out"));
      throw new ApiFailure(data.error || { code: "HTTP_" + response.status, message: response.statusText }, response.status);
    }
    return data;
  }

  /** A money-moving call: one idempotency key per user action, polled until settled. */
  async function move(path, body, key) {
    let data = await call("POST", path, body, key || crypto.randomUUID());
    let op = data.operation;
    for (let i = 0; op && op.status !== "confirmed" && op.status !== "failed" && i < 120; i += 1) {
      await new Promise((r) => setTimeout(r, 500));
      op = await call("GET", `/v1/operations/${op.id}`);
      data = { ...data, operation: op };
    }
    if (op && op.status === "failed") throw new ApiFailure(op.error || { code: "TRANSACTION_REJECTED" }, 409);
    return data;
  }

  async function imageUrl(path) {
    const response = await raw("GET", path);
    if (!response.ok) throw new ApiFailure({ code: "HTTP_" + response.status }, response.status);
    return URL.createObjectURL(await response.blob());
  }

  function svgUrl(svgText) {
    return URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
  }

  /** Server-sent events over fetch (EventSource cannot send the bearer token). */
  async function events(path, onEvent, signal) {
    const response = await raw("GET", path);
    if (!response.ok || !response.body) throw new ApiFailure({ code: "HTTP_" + response.status }, response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    while (!signal || !signal.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) onEvent(JSON.parse(data));
      }
    }
    reader.cancel();
  }

  // ---- QR scanning ----------------------------------------------------------------------
  class Scanner {
    constructor(video, onText) {
      this.video = video;
      this.onText = onText;
      this.canvas = document.createElement("canvas");
      this.stream = null;
      this.timer = null;
    }
    async start() {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      this.video.srcObject = this.stream;
      await this.video.play();
      this.timer = setInterval(() => this.tick(), 150);
    }
    tick() {
      const { videoWidth: w, videoHeight: h } = this.video;
      if (!w || !h) return;
      this.canvas.width = w;
      this.canvas.height = h;
      const context = this.canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(this.video, 0, 0, w, h);
      const code = window.jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
      if (code && code.data) {
        this.stop();
        this.onText(code.data);
      }
    }
    stop() {
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
      this.video.srcObject = null;
    }
  }

  async function decodeImage(file) {
    const bitmap = await createImageBitmap(file);
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    const code = window.jsQR(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
    return code ? code.data : null;
  }

  /** The log-in form, the log-out button and an ended session, the same in every app. */
  function bindSession(start, toLogin) {
    document.getElementById("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      try {
        tokens.set(await call("POST", "/v1/auth/login", { login: form.get("login"), password: form.get("password") }));
        await start();
      } catch (e) {
        showError("login-error", e);
      }
    });
    const logout = document.getElementById("logout");
    logout.addEventListener("click", async () => {
      try { await call("POST", "/v1/auth/logout"); } catch (e) { /* already gone */ }
      tokens.clear();
      logout.hidden = true;
      toLogin();
    });
    document.addEventListener("takasago:logged-out", () => { tokens.clear(); toLogin(); });
  }

  function registerServiceWorker() {
    if ("serviceWorker" in navigator) navigator.serviceWorker.register(`/${APP}/sw.js`, { scope: `/${APP}/` }).catch(() => {});
  }

  /** An element with text and attributes (text is always set as text, never parsed as HTML). */
  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }

  function formatPoints(n) {
    return `${Number(n).toLocaleString(lang === "en" ? "en-GB" : "ja-JP")} ${t("points")}`;
  }

  /* Dates and times in Japan's time zone, one convention per language (issue 21): 2026-12-03 and
     14:05 JST in English (never 03/12/2026), 2026/12/03 and 14:05 in Japanese. Each helper takes
     Unix seconds or an ISO string with its offset. */
  const pad = (n) => String(n).padStart(2, "0");
  const seconds = (at) => (typeof at === "string" ? Date.parse(at) / 1000 : Number(at));
  function jst(at) {
    const d = new Date((seconds(at) + 9 * 3600) * 1000);
    return { date: [d.getUTCFullYear(), pad(d.getUTCMonth() + 1), pad(d.getUTCDate())], time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`, day: d.getUTCDay() };
  }
  const zone = () => (lang === "en" ? " JST" : "");
  /** 2026-12-03 (English) / 2026/12/03 (Japanese). */
  function jstDate(at) {
    return jst(at).date.join(lang === "en" ? "-" : "/");
  }
  /** 2026-12-03 14:05 JST (English) / 2026/12/03 14:05 (Japanese). */
  function jstTime(at) {
    return `${jstDate(at)} ${jst(at).time}${zone()}`;
  }
  /** The time of day only: 14:05 JST (English) / 14:05 (Japanese). */
  function jstClock(at) {
    return `${jst(at).time}${zone()}`;
  }
  const WEEKDAYS = { ja: ["日", "月", "火", "水", "木", "金", "土"], en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] };
  /** A span of time with the weekday: 2026-12-03 (Thu) 14:05–15:00 JST / 2026/12/03（木）14:05–15:00. */
  function jstSpan(from, to) {
    const a = jst(from), b = jst(to);
    const day = lang === "en" ? ` (${WEEKDAYS.en[a.day]}) ` : `（${WEEKDAYS.ja[a.day]}）`;
    const end = jstDate(to) === jstDate(from) ? b.time : `${jstDate(to)} ${b.time}`;
    return `${jstDate(from)}${day}${a.time}–${end}${zone()}`;
  }
  /** A calendar day given as 2026-12-03 (a transfer date, a watch-over day), in the same convention. */
  const calendarDate = (ymd) => (lang === "en" ? ymd : String(ymd).replaceAll("-", "/"));
  const formatDate = jstDate;
  const formatDateTime = jstTime;
  /** A datetime-local input's value, read as JST, as an ISO instant. */
  const fromJstInput = (value) => new Date(`${value}:00+09:00`).toISOString();
  /** The organisers' event form (officer desk, coordinators' desk) as the body of POST /v1/organiser/events. */
  const eventBody = (form) => ({
    programme_id: Number(form.get("programme_id")), title: String(form.get("title")).trim(), points: Number(form.get("points")),
    starts_at: fromJstInput(String(form.get("starts_at"))), ends_at: fromJstInput(String(form.get("ends_at"))),
  });

  // An event form's times start at now and two hours from now, typed in Takasago's time (JST).
  const jstInput = (date) => new Date(date.getTime() + 9 * 3600 * 1000).toISOString().slice(0, 16);
  const defaultEventTimes = (form) => {
    if (form.starts_at.value) return;
    form.starts_at.value = jstInput(new Date());
    form.ends_at.value = jstInput(new Date(Date.now() + 2 * 3600 * 1000));
  };

  // An event's check-in QR on an organiser's screen (officer desk, coordinators' desk): signed, a
  // new code every `rotate_seconds`. `ids`: box, title, img, expiry elements; `expiryKey`: the
  // text with {time}; `errorId`: where a failure is shown (the display then stops);
  // `onCode(out)`: called with each new code (e.g. to show the attendance count).
  const eventQr = (ids, expiryKey, errorId, onCode) => {
    const byId = (id) => document.getElementById(id);
    let timer = null;
    const qr = {
      event: null,
      stop() {
        if (timer) clearInterval(timer);
        timer = null;
        qr.event = null;
        byId(ids.box).hidden = true;
      },
      async refresh() {
        if (!qr.event) return null;
        try {
          const out = await call("GET", `/v1/organiser/events/${qr.event.id}/qr`);
          const img = byId(ids.img);
          img.src = svgUrl(out.svg);
          img.dataset.code = out.code; // what the screen shows, for a test's camera
          byId(ids.expiry).textContent = t(expiryKey).replace("{time}", jstClock(out.expires_at));
          if (onCode) onCode(out);
          return out;
        } catch (e) {
          qr.stop();
          showError(errorId, e);
          return null;
        }
      },
      async show(event, title) {
        qr.stop();
        qr.event = event;
        byId(ids.title).textContent = title;
        byId(ids.box).hidden = false;
        const out = await qr.refresh();
        if (!out) return null;
        timer = setInterval(qr.refresh, out.rotate_seconds * 1000);
        byId(ids.box).scrollIntoView({ block: "start" });
        return out;
      },
    };
    return qr;
  };

  return {
    APP, t, addTexts, translate, bindSettings, bindSession, show, showError, ApiFailure, tokens, call, move, imageUrl, svgUrl, events,
    Scanner, decodeImage, registerServiceWorker, formatPoints, formatDate, formatDateTime, jstDate, jstTime, jstClock, jstSpan, calendarDate, fromJstInput, eventBody, defaultEventTimes, eventQr, el,
    get lang() { return lang; },
  };
})();
