/* The residents' みまもり tab (issue 19): a family's wards — where and when last seen, sightings
   arriving live, a missing alert raised and cleared — and, for volunteers, alerts nearby (what the
   family shared, never who) and each settled day's watch time and points. All through the wallet,
   which forwards to the watch service as this resident. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let live = null; // the AbortController of the open sightings stream
  let current = null;

  T.addTexts({
    ja: {
      watch: "みまもり", watch_family: "家族として", watch_volunteer: "ボランティアとして",
      watch_no_wards: "見守り対象は登録されていません", watch_consent: "本人（または保護者）の同意を得ました",
      watch_register: "見守りタグを登録", watch_secret: "タグに書き込むコード（この一度だけ表示）",
      watch_ward: "見守り対象", watch_last_seen: "最後に見かけた", watch_never: "まだ見かけていません",
      watch_alerting: "行方不明の連絡中", watch_sightings: "見かけた場所と時刻",
      watch_description: "特徴（ボランティアに表示・名前は書かないでください）", watch_raise: "行方不明を知らせる",
      watch_clear: "見つかった（連絡を終える）", watch_no_sightings: "この期間に見かけた記録はありません",
      watch_no_notices: "近くで探している人はいません", watch_notice: "近くで探しています",
      watch_minutes: "分", watch_day_nothing: "ポイントなし",
      watch_today: "きょうのみまもり時間", watch_cap: "上限", watch_hours: "対象の時間帯",
      watch_no_devices: "検知端末はまだありません（スマホのみまもりアプリ、または自宅・お店の検知器を登録してください）",
      watch_on: "みまもり中", watch_off: "休止中", watch_last_report: "最終送信",
      watch_enrol: "検知端末を登録する", watch_public_key: "端末に表示された公開鍵", watch_label: "名前（例：わたしのスマホ）",
      watch_enrol_button: "登録", watch_enrolled: "登録しました。端末にこの番号を入力してください",
      watch_share: "市が警察などに見かけた記録を共有することを許可する",
    },
    en: {
      watch: "Watch-over", watch_family: "As a family", watch_volunteer: "As a volunteer",
      watch_no_wards: "No one registered", watch_consent: "They (or their guardian) agreed",
      watch_register: "Register a tag", watch_secret: "Code to write to the tag (shown this once)",
      watch_ward: "Ward", watch_last_seen: "Last seen", watch_never: "Not seen yet",
      watch_alerting: "Missing alert open", watch_sightings: "Where and when seen",
      watch_description: "What they look like (shown to volunteers; no name)", watch_raise: "Report missing",
      watch_clear: "Found (end the alert)", watch_no_sightings: "Not seen in this period",
      watch_no_notices: "Nobody is being looked for nearby", watch_notice: "Being looked for nearby",
      watch_minutes: "min", watch_day_nothing: "no points",
      watch_today: "Watch time today", watch_cap: "cap", watch_hours: "counted hours",
      watch_no_devices: "No detector yet (enrol the watch-over phone app, or a home or shop detector)",
      watch_on: "Watching", watch_off: "Paused", watch_last_report: "last report",
      watch_enrol: "Enrol a detector", watch_public_key: "The public key the device shows", watch_label: "Name (e.g. my phone)",
      watch_enrol_button: "Enrol", watch_enrolled: "Enrolled. Enter this number on the device",
      watch_share: "The city may share the sightings with the police and others it names",
    },
  });

  const el = T.el;
  const when = T.jstTime; // common.js: 2026-12-03 07:42 JST / 2026/12/03 07:42
  const place = (s) => `${s.lat.toFixed(3)}, ${s.lon.toFixed(3)}`;

  function stopLive() {
    if (live) live.abort();
    live = null;
  }

  async function overview() {
    stopLive();
    T.show("watch");
    try {
      const wards = await T.call("GET", "/v1/watch/wards");
      $("watch-wards").replaceChildren(...wards.map((w, i) => {
        const li = el("li", null, { "data-id": w.id, class: "clickable", tabindex: "0" });
        li.append(el("span", `${T.t("watch_ward")} ${i + 1}`),
          el("small", w.last_seen ? `${T.t("watch_last_seen")}: ${when(w.last_seen.at)} ／ ${place(w.last_seen)}` : T.t("watch_never")));
        if (w.alert) li.append(el("strong", T.t("watch_alerting"), { class: "alerting" }));
        li.addEventListener("click", () => ward(w));
        return li;
      }));
      $("watch-wards-empty").hidden = wards.length > 0;
      await volunteering();
      const notices = await T.call("GET", "/v1/watch/notices");
      $("watch-notices").replaceChildren(...notices.map((n) => {
        const li = el("li", null, { "data-notice": n.notice });
        li.append(el("span", `${T.t("watch_notice")}: ${n.description}`),
          el("small", `${T.t("watch_last_seen")}: ${when(n.last_seen.at)} ／ ${place(n.last_seen)}`));
        return li;
      }));
      $("watch-notices-empty").hidden = notices.length > 0;
      const days = await T.call("GET", "/v1/watch/days");
      $("watch-days").replaceChildren(...days.map((d) => {
        const day = new Date(d.day * 86400 * 1000).toISOString().slice(0, 10);
        const li = el("li", null, { "data-day": day });
        li.append(el("span", `${T.calendarDate(day)} ／ ${d.minutes} ${T.t("watch_minutes")}`),
          el("strong", d.points ? T.formatPoints(d.points) : T.t("watch_day_nothing")));
        if (!d.points && d.reason) li.append(el("small", d.reason));
        return li;
      }));
    } catch (e) {
      T.showError("watch-error", e);
    }
  }

  async function volunteering() {
    const today = await T.call("GET", "/v1/watch/today");
    const hours = today.hours.map(([a, b]) => `${a}–${b}`).join(", ");
    $("watch-today").textContent = `${T.t("watch_today")}: ${today.minutes} ${T.t("watch_minutes")}` +
      ` （${T.t("watch_cap")} ${today.max_minutes} ${T.t("watch_minutes")} ／ ${T.t("watch_hours")} ${hours}）`;
    const devices = (await T.call("GET", "/v1/watch/devices")).filter((d) => d.active);
    $("watch-devices").replaceChildren(...devices.map((d) => {
      const li = el("li", null, { "data-device": d.id });
      const box = el("input", null, { type: "checkbox", "aria-label": T.t("watch_on") });
      box.checked = d.watching;
      const state = el("strong", T.t(d.watching ? "watch_on" : "watch_off"));
      box.addEventListener("change", async () => {
        try {
          await T.call("PUT", `/v1/watch/devices/${d.id}/watching`, { on: box.checked });
          state.textContent = T.t(box.checked ? "watch_on" : "watch_off");
        } catch (e) {
          box.checked = !box.checked;
          T.showError("watch-error", e);
        }
      });
      const label = el("label", null, { class: "check" });
      label.append(box, el("span", `${d.label || d.id}`));
      li.append(label, state,
        el("small", d.last_report_at ? `${T.t("watch_last_report")}: ${when(d.last_report_at)}` : d.id));
      return li;
    }));
    $("watch-devices-empty").hidden = devices.length > 0;
  }

  function sightingItem(s) {
    const li = el("li", null, { "data-at": String(s.at) });
    li.append(el("span", when(s.at)), el("strong", place(s)));
    return li;
  }

  async function ward(w) {
    current = w;
    stopLive();
    T.show("watch-ward");
    $("watch-alert-state").hidden = !w.alert;
    $("watch-alert-state").textContent = T.t("watch_alerting");
    $("watch-clear").hidden = !w.alert;
    $("watch-alert-form").hidden = Boolean(w.alert);
    try {
      const rows = await T.call("GET", `/v1/watch/wards/${w.id}/sightings?hours=72`);
      $("watch-sightings").replaceChildren(...rows.map(sightingItem));
      $("watch-sightings-empty").hidden = rows.length > 0;
      live = new AbortController();
      const shown = new Set(rows.map((r) => `${r.at}:${r.lat}:${r.lon}`));
      T.events(`/v1/watch/wards/${w.id}/events`, (s) => {
        const key = `${s.at}:${s.lat}:${s.lon}`;
        if (shown.has(key)) return;
        shown.add(key);
        $("watch-sightings").prepend(sightingItem(s));
        $("watch-sightings-empty").hidden = true;
      }, live.signal).catch(() => {});
    } catch (e) {
      T.showError("watch-ward-error", e);
    }
  }

  async function refreshWard() {
    const wards = await T.call("GET", "/v1/watch/wards");
    const w = wards.find((x) => x.id === current.id);
    if (w) await ward(w);
  }

  $("go-watch").addEventListener("click", () => overview());
  document.querySelectorAll("button.watch-back").forEach((b) => b.addEventListener("click", () => overview()));
  document.querySelectorAll("section#watch button.back").forEach((b) => b.addEventListener("click", stopLive));
  $("watch-register-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await T.call("POST", "/v1/watch/wards", { consent: event.target.elements.consent.checked });
      event.target.reset();
      await overview();
      $("watch-secret").textContent = `${T.t("watch_secret")}: ${made.secret}`;
      $("watch-secret").dataset.secret = made.secret;
      $("watch-secret").hidden = false;
    } catch (e) {
      T.showError("watch-error", e);
    }
  });
  $("watch-enrol-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    try {
      const made = await T.call("POST", "/v1/watch/devices", { public_key: f.public_key.value.trim(), label: f.label.value });
      event.target.reset();
      $("watch-enrolled").textContent = `${T.t("watch_enrolled")}: ${made.device}`;
      $("watch-enrolled").hidden = false;
      await volunteering();
    } catch (e) {
      T.showError("watch-error", e);
    }
  });
  $("watch-alert-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const f = event.target.elements;
      await T.call("POST", `/v1/watch/wards/${current.id}/alert`,
        { description: f.description.value, share_outside: f.share_outside.checked });
      event.target.reset();
      await refreshWard();
    } catch (e) {
      T.showError("watch-ward-error", e);
    }
  });
  $("watch-clear").addEventListener("click", async () => {
    try {
      await T.call("DELETE", `/v1/watch/wards/${current.id}/alert`);
      await refreshWard();
    } catch (e) {
      T.showError("watch-ward-error", e);
    }
  });
})();
