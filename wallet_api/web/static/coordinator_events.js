/* Events on the coordinators' desk (issue 21): a coordinator (社協, 民生委員) creates an event on a
   programme the city opened for claims, and at the venue shows its QR — signed, a new code every
   minute — with how many residents have checked in so far. The routes are the organisers' ones
   (/v1/organiser/…); the API shows a coordinator only the events they created. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let countTimer = null;
  const COUNT_EVERY_MS = 3000; // the attendance count follows the check-ins within a few seconds

  T.addTexts({
    ja: {
      ce_title: "イベントとQR受付", ce_open: "主催するイベント（QR受付）",
      ce_hint: "会場でQRを表示すると、参加者がアプリで読み取って受付します。ポイントは1人1回だけです。コードは1分ごとに変わります。",
      ce_none: "主催するイベントはまだありません。", ce_count: "受付済み", ce_people: "{n}人", ce_stop: "表示をやめる",
      ce_show: "QRを表示", ce_new: "イベントを作る", ce_programme: "プログラム", ce_name: "イベント名",
      ce_points: "1人あたりのポイント", ce_starts: "開始（日本時間）", ce_ends: "終了（日本時間）", ce_create: "イベントを作成",
      ce_created: "イベントを作成しました。", ce_expiry: "このコードは {time} まで有効です（1分ごとに新しいコードに変わります）。",
      ce_no_programme: "イベントを作れるプログラムがありません（市の担当者にご相談ください）。",
    },
    en: {
      ce_title: "Events and QR check-in", ce_open: "Events I organise (QR check-in)",
      ce_hint: "Show the QR at the venue: participants scan it with the app to check in. Points are given once per person. The code changes every minute.",
      ce_none: "You organise no events yet.", ce_count: "Checked in", ce_people: "{n}", ce_stop: "Stop showing",
      ce_show: "Show the QR", ce_new: "New event", ce_programme: "Programme", ce_name: "Event name",
      ce_points: "Points per person", ce_starts: "Starts (Japan time)", ce_ends: "Ends (Japan time)", ce_create: "Create the event",
      ce_created: "Event created.", ce_expiry: "This code is valid until {time} (a new code every minute).",
      ce_no_programme: "No programme is open for events (ask the city).",
    },
  });

  const count = (n) => T.t("ce_people").replace("{n}", Number(n).toLocaleString(T.lang === "en" ? "en-GB" : "ja-JP"));
  // the QR on screen (qr.event: its event); each new code also brings the attendance count
  const qr = T.eventQr({ box: "ce-qr-box", title: "ce-qr-title", img: "ce-qr", expiry: "ce-qr-expiry" }, "ce_expiry", "ce-error",
    (out) => { $("ce-count").textContent = count(out.event.checkins); });

  function stop() {
    qr.stop();
    if (countTimer) clearInterval(countTimer);
    countTimer = null;
  }

  async function open(notice) {
    stop();
    T.show("events");
    $("ce-notice").hidden = !notice;
    if (notice) $("ce-notice").textContent = T.t(notice);
    try {
      const [programmes] = await Promise.all([T.call("GET", "/v1/organiser/programmes"), events()]);
      const select = $("ce-form").elements.programme_id;
      const previous = select.value;
      const claimable = programmes.filter((p) => p.claimable);
      select.replaceChildren(...claimable.map((p) => el("option", `#${p.id} ${p.name}`, { value: String(p.id) })));
      if (previous) select.value = previous;
      $("ce-form").querySelector("button[type=submit]").disabled = claimable.length === 0;
      if (!claimable.length) Object.assign($("ce-error"), { textContent: T.t("ce_no_programme"), hidden: false });
      T.defaultEventTimes($("ce-form").elements);
    } catch (e) {
      T.showError("ce-error", e);
    }
  }

  async function events() {
    const rows = await T.call("GET", "/v1/organiser/events?limit=50");
    $("ce-events").replaceChildren(...rows.map((e) => {
      const li = el("li", null, { "data-event": e.id });
      li.append(el("span", `${e.title} ／ ${T.formatPoints(e.points)}`), el("strong", `${T.t("ce_count")} ${count(e.checkins)}`));
      li.append(el("small", T.jstSpan(e.starts_at, e.ends_at)));
      if (new Date(e.ends_at) > new Date()) {
        const show = el("button", T.t("ce_show"), { type: "button", class: "primary ce-show", style: "grid-column: 1 / -1" });
        show.addEventListener("click", () => showQr(e));
        li.append(show);
      }
      return li;
    }));
    $("ce-events-empty").hidden = rows.length > 0;
    return rows;
  }

  async function refreshCount() {
    const shown = qr.event;
    if (!shown) return;
    try {
      const row = (await T.call("GET", "/v1/organiser/events?limit=50")).find((e) => e.id === shown.id);
      if (!row || qr.event !== shown) return;
      $("ce-count").textContent = count(row.checkins);
      const listed = document.querySelector(`#ce-events li[data-event="${row.id}"] strong`);
      if (listed) listed.textContent = `${T.t("ce_count")} ${count(row.checkins)}`;
    } catch (e) { /* the next tick tries again; the QR's own refresh reports a lasting failure */ }
  }

  async function showQr(event) {
    stop();
    const span = T.jstSpan(event.starts_at, event.ends_at);
    $("ce-count").textContent = count(event.checkins);
    const title = T.lang === "en" ? `${event.title} (${span})` : `${event.title}（${span}）`;
    if (await qr.show(event, title)) countTimer = setInterval(refreshCount, COUNT_EVERY_MS);
  }

  $("ce-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("POST", "/v1/organiser/events", T.eventBody(form));
      event.target.elements.title.value = "";
      await open("ce_created");
    } catch (e) {
      T.showError("ce-error", e);
    }
  });
  $("go-events").addEventListener("click", () => open());
  $("ce-qr-stop").addEventListener("click", stop);
  document.querySelectorAll("#events button.back").forEach((b) => b.addEventListener("click", stop));
  document.addEventListener("takasago:logged-out", stop);
  document.addEventListener("takasago:language", () => {
    if ($("events").hidden) return;
    const keep = qr.event;
    open().then(() => { if (keep) showQr(keep); });
  });
})();
